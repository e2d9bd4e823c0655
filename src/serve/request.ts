// A request made ready to decode: GenRequest → prompt (and suffix) ids + validated DecodeOptions, checked
// against the model (context, vocabulary, chat template) and the server's limits. Errors are ApiError 400s
// naming the wire field the user sent. Shared by the engine (engine.ts) and the jobs (job.ts).
import { healPrompt, type Healing } from '../text/heal.js';
import { fimIds, fimPrompt, modelDecodeDefaults, TEXT_DEFAULTS } from '../text/generator.js';
import type { ModelConfig } from '../model/config.js';
import type { ForwardModel } from '../model/forward.js';
import {
  DecodeOptionError,
  isDreamDecoder,
  parseArDecodeOptions,
  parseDecodeOptions,
  type Decoder,
  type DecodeOptions,
  type TokenConstraint,
} from '../sampler/index.js';
import type { TextTokenizer } from '../tokenizer/index.js';
import type { ServeConfig } from './config.js';
import { invalid } from './errors.js';
import { SchemaError, type Skeleton } from '../text/structured.js';
import { planStructure, type StructurePlan } from '../text/structured-plan.js';
import { callSchemaFor, TOOL_CALL_CLOSE, TOOL_CALL_OPEN, toolSystemMessage } from './tools.js';
import type { GenRequest } from './protocol.js';

/** a model as the server serves it: its id, config, forward pass and tokenizer */
export interface ServedModel {
  id: string;
  config: ModelConfig;
  model: ForwardModel;
  tokenizer: TextTokenizer;
}

export type ModelKind = 'diffusion' | 'causal';

export interface Prepared {
  req: GenRequest;
  promptIds: Int32Array;
  suffixIds: Int32Array | null;
  options: Readonly<DecodeOptions>;
  /** response_format / a forced call, pinned: the canvas skeleton (fixed structure, constrained value cells) and its reader */
  structure: Skeleton | null;
  /** response_format / a forced call, masked token by token (text/json-mask.ts): the answer is the decoded JSON */
  constraint: TokenConstraint | null;
  /** a plain text prompt's backed-up trailing whitespace token (text/heal.ts), as the library's generator does */
  healing: Healing | null;
}

/** tokenize and validate; throws ApiError (4xx) naming the field */
export function prepareRequest(served: ServedModel, cfg: ServeConfig, kind: ModelKind, req: GenRequest): Prepared {
  const { id, tokenizer: tok, config } = served;
  const promptParam =
    req.endpoint === 'chat' || req.endpoint === 'edit' ? 'messages' : req.endpoint === 'infill' ? 'input_prefix' : 'prompt';
  // bound the work before tokenizing (it runs on the event loop): text longer than the context × the longest
  // token cannot fit, so it is refused at once instead of being tokenized for seconds
  const chars = req.prompt.length + (req.suffix?.length ?? 0) + (req.messages ?? []).reduce((n, m) => n + m.content.length, 0);
  const maxChars = config.maxPositions * tok.maxTokenChars;
  if (chars > maxChars)
    throw invalid(
      promptParam,
      `the prompt (${chars} characters) cannot fit in the model's context of ${config.maxPositions} tokens (one token covers at most ${tok.maxTokenChars} characters)`,
      'context_length_exceeded',
    );
  // user text is plain text: special-token strings in it stay text; only the chat template makes control tokens
  let promptIds: Int32Array;
  if (req.messages) {
    if (!tok.chatTemplate) throw invalid('messages', `model "${id}" has no chat template; use /v1/completions`, 'no_chat_template');
    // tools go through the template's own `tools` variable; a template without one gets them as a system message
    const tools = req.toolChoice !== 'none' ? req.tools : [];
    const messages = tools.length && !tok.templateHasTools ? [toolSystemMessage(tools), ...req.messages] : req.messages;
    try {
      promptIds = tok.encodeChat(messages, { addGenerationPrompt: true, tools });
    } catch (e) {
      throw invalid('messages', `the chat template rejected the messages: ${(e as Error).message}`);
    }
  } else promptIds = req.promptIds ? Int32Array.from(req.promptIds) : tok.encode(req.prompt);
  const V = config.vocabSize;
  const sp = tok.specials;
  if (req.promptIds)
    for (const [i, t] of req.promptIds.entries()) {
      if (t >= V) throw invalid(`prompt[${i}]`, `"prompt[${i}]": token id ${t} is outside the vocabulary (0..${V - 1})`);
      if (t === sp.mask) throw invalid(`prompt[${i}]`, `"prompt[${i}]": token id ${t} is the mask token, which only the decoder may place`);
    }
  if (kind === 'causal' && promptIds.length === 0) {
    if (sp.bos === null) throw invalid(promptParam, `"${promptParam}" is empty and the model has no BOS token to start from`);
    promptIds = Int32Array.of(sp.bos);
  }
  let suffixIds: Int32Array | null = req.suffix ? tok.encode(req.suffix) : null;
  if (suffixIds && suffixIds.length === 0) suffixIds = null;
  const suffixParam = req.endpoint === 'infill' ? 'input_suffix' : 'suffix';
  if (suffixIds && kind === 'causal')
    throw invalid(suffixParam, `"${suffixParam}" (fill-in-the-middle) needs a diffusion model; "${id}" is causal`, 'unsupported_parameter');
  if (suffixIds && config.bdSize !== undefined) {
    // a block-diffusion block never sees a later one: the suffix goes in front through the FIM sentinels (PSM)
    const fim = fimIds(tok);
    if (!fim)
      throw invalid(
        suffixParam,
        `"${suffixParam}": "${id}" decodes block-causally and has no FIM tokens to see a suffix`,
        'unsupported_parameter',
      );
    promptIds = fimPrompt(fim, promptIds, suffixIds);
    suffixIds = null;
  }
  const limit = cfg.maxTokens,
    mp = req.maxTokensParam;
  if (req.maxTokens !== null && req.maxTokens > limit)
    throw invalid(mp, `"${mp}" (${req.maxTokens}) is over this server's limit of ${limit}`, 'max_tokens_exceeded');
  const used = promptIds.length + (suffixIds?.length ?? 0),
    room = config.maxPositions - used;
  if (room < 1)
    throw invalid(
      promptParam,
      `the prompt (${used} tokens) leaves no room in the model's context of ${config.maxPositions} tokens`,
      'context_length_exceeded',
    );
  const given = req.maxTokens ?? (typeof req.decode['genLength'] === 'number' ? req.decode['genLength'] : null);
  const genParam = req.maxTokens !== null ? mp : 'genLength';
  if (given !== null && given > limit)
    throw invalid(genParam, `"${genParam}" (${given}) is over this server's limit of ${limit}`, 'max_tokens_exceeded');
  if (given !== null && given > room)
    throw invalid(
      genParam,
      `the prompt (${used} tokens) + "${genParam}" (${given}) is over the model's context of ${config.maxPositions} tokens`,
      'context_length_exceeded',
    );
  const causal = kind === 'causal';
  // a forced call (a named tool, or "required") or response_format: pinned on the canvas when it can be,
  // else masked token by token (a causal model; anyOf, variable arrays, a choice among several tools)
  let plan: StructurePlan | null = null;
  const call = callSchemaFor(req.tools, req.toolChoice);
  const [schema, param, around] = call
    ? [call.schema, 'tools', { before: TOOL_CALL_OPEN, after: TOOL_CALL_CLOSE }]
    : req.responseFormat
      ? [req.responseFormat.schema, 'response_format.json_schema.schema', {}]
      : [null, '', {}];
  if (schema) {
    try {
      plan = planStructure(schema, tok, kind, 'auto', around);
    } catch (e) {
      if (e instanceof SchemaError) throw invalid(param, call ? `${call.what}: ${e.message}` : e.message, 'unsupported_schema');
      throw e;
    }
  }
  const structure = plan?.mode === 'pinned' ? plan.skeleton : null,
    masked = plan?.mode === 'masked' ? plan : null;
  if (structure && structure.length > room)
    throw invalid(
      param === 'tools' ? 'tools' : 'response_format',
      `the ${call ? "call's" : "schema's"} skeleton (${structure.length} tokens) + the prompt (${used}) do not fit the model's context of ${config.maxPositions} tokens`,
      'context_length_exceeded',
    );
  // masked: the call's opener is fixed text after the prompt; the decoder writes the JSON after it
  if (masked?.before) promptIds = Int32Array.from([...promptIds, ...tok.encode(masked.before)]);
  let genLength = structure ? structure.length : Math.max(1, given ?? Math.min(cfg.defaultMaxTokens, room));
  if (masked) {
    // room for the shortest value at one token per character, unless the caller set the length
    const left = config.maxPositions - promptIds.length;
    genLength = given ?? Math.min(left, Math.max(cfg.defaultMaxTokens, 2 * masked.shortest));
    if (genLength < masked.shortest)
      throw invalid(
        given !== null ? genParam : promptParam,
        `the shortest JSON the ${call ? 'call' : 'schema'} allows is ${masked.shortest} characters, which may need that many tokens; ${given !== null ? `"${genParam}" is ${given}` : `the context leaves ${left}`}`,
        given !== null ? 'invalid_value' : 'context_length_exceeded',
      );
  }
  const raw: Record<string, unknown> = {
    // the server's defaults are the library's and the CLI's (TEXT_DEFAULTS: threshold decoding, early stop)
    ...(causal ? {} : { decoder: TEXT_DEFAULTS.decoder }),
    ...(sp.eos !== null ? { earlyStop: TEXT_DEFAULTS.earlyStop } : {}),
    ...(suffixIds ? { infillMayEnd: true } : {}),
    // the model's own: a block-diffusion model's blocks (bd_size), block-causal under cache 'block' and for LLaDA2
    ...(causal ? {} : modelDecodeDefaults(config, cfg.cache, suffixIds !== null)),
    // structured output: one block over the skeleton, so the model fills its slots in any order
    ...(structure ? { blockLength: structure.length, steps: structure.length } : {}),
    // token masks read the ids before each position: a canvas then decodes left to right, blocks of one
    ...(masked && !causal ? { blockLength: 1, steps: genLength } : {}),
    ...req.decode,
    // n_predict 0 (an editor's warm-up) validates the request; nothing is decoded
    genLength,
    // the skeleton's empty cells are EOS, which must not end the decode
    ...(structure ? { earlyStop: false } : {}),
  };
  const proposals = causal || (typeof raw['decoder'] === 'string' && isDreamDecoder(raw['decoder'] as Decoder)); // top-p / top-k apply
  if (proposals && req.hints.topP !== undefined && raw['topP'] === undefined && req.hints.topP > 0) raw['topP'] = req.hints.topP;
  if (proposals && req.hints.topK !== undefined && raw['topK'] === undefined) raw['topK'] = req.hints.topK;
  let options: Readonly<DecodeOptions>;
  try {
    options = causal ? parseArDecodeOptions(raw) : parseDecodeOptions(raw);
    if (!causal && cfg.cache === 'block' && !options.blockCausal)
      throw new DecodeOptionError('blockCausal', "must be true: this server's cache is 'block', exact only under block-causal decoding");
  } catch (e) {
    if (!(e instanceof DecodeOptionError)) throw e;
    const key = e.key ?? 'body';
    const wire = key === 'genLength' ? genParam : (req.wireNames[key] ?? key);
    throw invalid(wire, `"${wire}" ${e.detail}`);
  }
  // the library's prompt healing (text/heal.ts) on the same prompts: plain text, nothing after it, no JSON
  let healing: Healing | null = null;
  if (TEXT_DEFAULTS.healPrompt && promptParam === 'prompt' && !req.messages && !req.promptIds && !req.suffix && !plan)
    ({ ids: promptIds, healing } = healPrompt(promptIds, tok, config.vocabSize));
  return { req, promptIds, suffixIds, options, structure, constraint: masked?.constraint ?? null, healing };
}
