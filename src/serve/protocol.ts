// Wire requests → one typed GenRequest. Each endpoint has its own set of known fields (unknown ones are
// rejected, naming them); OpenAI / llama-server fields are mapped onto our decoder options (camelCase keys of
// sampler/options.ts, also accepted as extra body fields, validated later by parseDecodeOptions).
// Field names follow interfaces.md: OpenAI chat/completions (§2.4), Mercury FIM + diffusing (§1.3, §1.4),
// llama-server /infill (§2.1, §6).
import { DECODE_DEFAULTS } from '../sampler/index.js';
import type { ChatMessage, ChatTool } from '../tokenizer/index.js';
import { parseToolChoice, parseTools, type ToolChoice } from './tools.js';
import { invalid } from './errors.js';
import {
  describe,
  Fields,
  isIds,
  parseExtra,
  parseMessages,
  parseResponseFormat,
  type Body,
  type ResponseFormat,
} from './protocol-fields.js';

export { JSON_OBJECT_SCHEMA } from './protocol-fields.js';

export type Endpoint = 'chat' | 'completions' | 'fim' | 'infill' | 'completion' | 'apply' | 'edit';
/** the llama-server endpoints (/infill, /completion): their wire shapes, fields and streams */
export const isLlama = (e: Endpoint): boolean => e === 'infill' || e === 'completion';
/** endpoints that take `messages` and answer as a chat completion (OpenAI chat; Mercury apply-edit and next-edit) */
export const isChatShaped = (e: Endpoint): boolean => e === 'chat' || e === 'apply' || e === 'edit';

export interface GenRequest {
  endpoint: Endpoint;
  model: string | null;
  /** chat: rendered through the chat template */
  messages: ChatMessage[] | null;
  /** text before the generated span (completions, FIM, infill) */
  prompt: string;
  /** the prompt as token ids (llama-server /completion accepts them) */
  promptIds: number[] | null;
  /** text after it (fill-in-the-middle); null = plain continuation */
  suffix: string | null;
  stream: boolean;
  includeUsage: boolean;
  /** Mercury: stream the whole current canvas on each step (replace semantics) */
  diffusing: boolean;
  stop: string[];
  maxTokens: number | null;
  /** the wire field maxTokens came from, for error messages */
  maxTokensParam: string;
  /** decoder options (camelCase), as given: validated by parseDecodeOptions */
  decode: Record<string, unknown>;
  /** best-effort sampling hints (top_p, top_k): applied where the decoder has proposal filters */
  hints: { topP?: number; topK?: number };
  /** decode key → the wire field it came from */
  wireNames: Record<string, string>;
  /** llama-server: completions per prompt (`n_cmpl`, alias `n`); more than 1 answers with an array */
  nCmpl: number;
  /** llama-server `response_fields`: the fields to return ("a/b" → a flat key "a/b"); null = all */
  responseFields: string[] | null;
  /** llama-server `t_max_predict_ms`: once a newline has been generated and this much time has passed, stop; 0 = off */
  tMaxPredictMs: number;
  /** llama-server `n_indent`: a later line indented less than this ends the completion (and is cut); 0 = off */
  nIndent: number;
  /** OpenAI `response_format` (chat): the JSON Schema the answer must follow; null = free text */
  responseFormat: ResponseFormat | null;
  /** OpenAI tool calling (chat): the tools, the choice, and whether several calls may come back */
  tools: ChatTool[];
  toolChoice: ToolChoice;
  parallelToolCalls: boolean;
}

const DECODE_KEYS = Object.keys(DECODE_DEFAULTS);
const OPENAI_COMMON = [
  'model',
  'stream',
  'stream_options',
  'max_tokens',
  'temperature',
  'top_p',
  'stop',
  'seed',
  'n',
  'user',
  'diffusing',
  'frequency_penalty',
  'presence_penalty',
  'logprobs',
];
const LLAMA_COMMON = [
  'model',
  'prompt',
  'n_predict',
  'temperature',
  'top_k',
  'top_p',
  'seed',
  'stop',
  'stream',
  'diffusing',
  'n_cmpl',
  'n',
  'response_fields',
  't_max_predict_ms',
  'n_indent',
  'presence_penalty',
  'frequency_penalty',
];
const KNOWN: Record<Endpoint, string[]> = {
  chat: [...OPENAI_COMMON, 'messages', 'max_completion_tokens', 'response_format', 'tools', 'tool_choice', 'parallel_tool_calls'],
  apply: [...OPENAI_COMMON, 'messages', 'max_completion_tokens'],
  edit: [...OPENAI_COMMON, 'messages', 'max_completion_tokens'],
  completions: [...OPENAI_COMMON, 'prompt', 'suffix', 'echo'],
  fim: [...OPENAI_COMMON, 'prompt', 'suffix', 'max_completion_tokens'],
  infill: [...LLAMA_COMMON, 'input_prefix', 'input_suffix', 'input_extra'],
  completion: LLAMA_COMMON,
};
export const ROUTE: Record<Endpoint, string> = {
  chat: '/v1/chat/completions',
  completions: '/v1/completions',
  fim: '/v1/fim/completions',
  infill: '/infill',
  completion: '/completion',
  apply: '/v1/apply/completions',
  edit: '/v1/edit/completions',
};
/**
 * llama-server fields editor plugins and clients send (llama.vim, llama.vscode, Continue) that have no
 * meaning for this server: accepted and ignored, as llama-server ignores samplers that do not apply. GET /props
 * lists them. `cache_prompt`/`id_slot`: there is no prompt cache across requests; `t_max_prompt_ms`:
 * llama-server does not implement it either; the samplers: diffusion decoding has its own (decoder, threshold).
 */
export const LLAMA_IGNORED = [
  'cache_prompt',
  'id_slot',
  't_max_prompt_ms',
  'samplers',
  'n_probs',
  'return_tokens',
  'min_p',
  'typical_p',
  'repeat_penalty',
  'repeat_last_n',
  'timings_per_token',
  'mirostat',
  'mirostat_tau',
  'mirostat_eta',
  'lora',
  'dynatemp_range',
  'dynatemp_exponent',
  'penalize_nl',
  'tfs_z',
  'n_keep',
  'ignore_eos',
  'post_sampling_probs',
  'return_progress',
];
/** the most completions one llama-server request may ask for (llama.vscode sends 3) */
export const MAX_N_CMPL = 8;

/** a request body (already JSON-parsed) for an endpoint → GenRequest; throws ApiError 400 naming the field */
export function parseGenRequest(endpoint: Endpoint, body: unknown): GenRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw invalid('body', `the request body must be a JSON object, got ${describe(body)}`, 'invalid_type');
  const b = body as Body;
  const known = KNOWN[endpoint];
  for (const k of Object.keys(b)) {
    if (known.includes(k) || DECODE_KEYS.includes(k) || (isLlama(endpoint) && LLAMA_IGNORED.includes(k))) continue;
    throw invalid(k, `unknown field "${k}" for ${ROUTE[endpoint]}`, 'unknown_parameter');
  }
  const f = new Fields(b);
  const decode: Record<string, unknown> = {},
    wireNames: Record<string, string> = {},
    hints: GenRequest['hints'] = {};
  for (const k of DECODE_KEYS)
    if (b[k] !== undefined && b[k] !== null) {
      decode[k] = b[k];
      wireNames[k] = k;
    } // null = unset
  const mapTo = (wire: string, key: string, v: unknown) => {
    if (v === undefined) return;
    if (wireNames[key] === key && key !== wire)
      throw invalid(wire, `give either "${wire}" or "${key}", not both`, 'conflicting_parameters');
    decode[key] = v;
    wireNames[key] = wire;
  };
  const stream = f.bool('stream') ?? false;
  let includeUsage = false;
  if (!isLlama(endpoint)) {
    const so = b['stream_options'];
    if (so !== undefined && so !== null) {
      if (typeof so !== 'object' || Array.isArray(so))
        throw invalid('stream_options', `"stream_options" must be an object, got ${describe(so)}`, 'invalid_type');
      if (!stream) throw invalid('stream_options', '"stream_options" is only allowed when "stream" is true');
      for (const k of Object.keys(so))
        if (k !== 'include_usage') throw invalid(`stream_options.${k}`, `unknown field "stream_options.${k}"`, 'unknown_parameter');
      const iu = (so as Body)['include_usage'];
      if (iu !== undefined && iu !== null && typeof iu !== 'boolean')
        throw invalid(
          'stream_options.include_usage',
          `"stream_options.include_usage" must be true or false, got ${describe(iu)}`,
          'invalid_type',
        );
      includeUsage = iu === true;
    }
    const n = f.num('n', 1, 1, true);
    void n;
    const lp = b['logprobs'];
    if (lp !== undefined && lp !== null && lp !== false && lp !== 0)
      throw invalid('logprobs', '"logprobs" is not supported', 'unsupported_parameter');
    f.str('user');
  }
  mapTo('temperature', 'temperature', f.num('temperature', 0, 2));
  mapTo('presence_penalty', 'presencePenalty', f.num('presence_penalty', -2, 2));
  mapTo('frequency_penalty', 'frequencyPenalty', f.num('frequency_penalty', -2, 2));
  let nCmpl = 1,
    responseFields: string[] | null = null,
    tMaxPredictMs = 0,
    nIndent = 0;
  if (isLlama(endpoint)) {
    const a = f.num('n_cmpl', 1, MAX_N_CMPL, true),
      n = f.num('n', 1, MAX_N_CMPL, true);
    if (a !== undefined && n !== undefined && a !== n)
      throw invalid('n', 'give either "n_cmpl" or "n" (its alias), not both', 'conflicting_parameters');
    nCmpl = a ?? n ?? 1;
    const rf = b['response_fields'];
    if (rf !== undefined && rf !== null) {
      if (!Array.isArray(rf) || !rf.every((x) => typeof x === 'string'))
        throw invalid('response_fields', `"response_fields" must be an array of strings, got ${describe(rf)}`, 'invalid_type');
      responseFields = rf as string[];
    }
    tMaxPredictMs = Math.max(0, f.num('t_max_predict_ms', -1, 3_600_000) ?? 0); // −1 = off (newer schema), as 0
    nIndent = f.num('n_indent', 0, 1000, true) ?? 0;
    if (nCmpl > 1 && stream)
      throw invalid('n_cmpl', '"n_cmpl" above 1 needs "stream": false (the results come back as one array)', 'unsupported_parameter');
  }
  mapTo('seed', 'seed', f.num('seed', Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, true));
  const topP = f.num('top_p', 0, 1);
  if (topP !== undefined) hints.topP = topP;
  if (isLlama(endpoint)) {
    const topK = f.num('top_k', 0, 1e9, true);
    if (topK !== undefined) hints.topK = topK;
  }

  let maxTokens: number | null = null,
    maxTokensParam = 'max_tokens';
  for (const k of isLlama(endpoint)
    ? ['n_predict']
    : endpoint === 'completions'
      ? ['max_tokens']
      : ['max_tokens', 'max_completion_tokens']) {
    const v = f.num(k, k === 'n_predict' ? -1 : 1, Number.MAX_SAFE_INTEGER, true);
    if (v === undefined || v === -1) continue; // n_predict −1: unbounded (up to the server's limit); 0: a warm-up, nothing generated
    if (maxTokens !== null) throw invalid(k, `give either "max_tokens" or "max_completion_tokens", not both`, 'conflicting_parameters');
    maxTokens = v;
    maxTokensParam = k;
  }
  if (maxTokens !== null && decode['genLength'] !== undefined)
    throw invalid(maxTokensParam, `give either "${maxTokensParam}" or "genLength", not both`, 'conflicting_parameters');

  let messages: ChatMessage[] | null = null,
    prompt = '',
    suffix: string | null = null,
    promptIds: number[] | null = null;
  if (isChatShaped(endpoint)) messages = parseMessages(b['messages']);
  else if (endpoint === 'completion') {
    const p = b['prompt'];
    if (p === undefined || p === null) throw invalid('prompt', '"prompt" is required', 'missing_required_parameter');
    if (typeof p === 'string') prompt = p;
    else if (isIds(p)) promptIds = p;
    else throw invalid('prompt', `"prompt" must be a string or a non-empty array of token ids, got ${describe(p)}`, 'invalid_type');
  } else if (endpoint === 'infill') {
    const extra = parseExtra(b['input_extra']);
    prompt = extra + (f.str('input_prefix') ?? '') + (f.str('prompt') ?? '');
    suffix = f.str('input_suffix') ?? '';
  } else {
    const p = b['prompt'];
    if (p === undefined || p === null) throw invalid('prompt', '"prompt" is required', 'missing_required_parameter');
    // OpenAI's prompt: a string, an array of one string, token ids, or an array of one array of token ids
    if (typeof p === 'string') prompt = p;
    else if (Array.isArray(p) && p.length === 1 && typeof p[0] === 'string') prompt = p[0];
    else if (endpoint === 'completions' && isIds(p)) promptIds = p;
    else if (endpoint === 'completions' && Array.isArray(p) && p.length === 1 && isIds(p[0])) promptIds = p[0];
    else
      throw invalid(
        'prompt',
        `"prompt" must be a string${endpoint === 'completions' ? ', token ids' : ''} (or an array of one), got ${describe(p)}`,
        'invalid_type',
      );
    const s = f.str('suffix');
    suffix = s === undefined || s === '' ? null : s;
    if (f.bool('echo')) throw invalid('echo', '"echo" is not supported', 'unsupported_parameter');
  }
  const model = f.str('model') ?? null;
  const responseFormat = endpoint === 'chat' ? parseResponseFormat(b['response_format']) : null;
  const tools = endpoint === 'chat' ? parseTools(b['tools']) : [];
  const toolChoice = parseToolChoice(b['tool_choice'], tools);
  const parallelToolCalls = f.bool('parallel_tool_calls') ?? true;
  if (responseFormat && toolChoice !== 'none')
    throw invalid(
      'response_format',
      'give "response_format" or "tools", not both (a forced tool call is already structured)',
      'conflicting_parameters',
    );
  return {
    endpoint,
    model,
    messages,
    prompt,
    promptIds,
    suffix,
    stream,
    includeUsage,
    diffusing: f.bool('diffusing') ?? false,
    stop: f.stop('stop'),
    maxTokens,
    maxTokensParam,
    decode,
    hints,
    wireNames,
    nCmpl,
    responseFields,
    tMaxPredictMs,
    nIndent,
    responseFormat,
    tools,
    toolChoice,
    parallelToolCalls,
  };
}
