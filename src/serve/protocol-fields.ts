// The typed field readers of a wire request and the parsers of its structured fields (messages, llama-server
// input_extra, OpenAI response_format), for protocol.ts. Every error is a 400 naming the field (errors.ts).
import type { ChatMessage } from '../tokenizer/index.js';
import { invalid } from './errors.js';

export type Body = Record<string, unknown>;

/** OpenAI response_format, parsed: the schema the output must follow */
export interface ResponseFormat {
  type: 'json_object' | 'json_schema';
  name: string;
  schema: unknown;
  strict: boolean;
}

export const describe = (v: unknown): string =>
  v === null
    ? 'null'
    : Array.isArray(v)
      ? 'an array'
      : typeof v === 'string'
        ? JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)
        : `${typeof v} ${String(v)}`;

/** typed reads of optional fields; null counts as absent (OpenAI clients send null for "unset") */
export class Fields {
  constructor(readonly b: Body) {}
  private get(k: string): unknown {
    const v = this.b[k];
    return v === null ? undefined : v;
  }
  str(k: string): string | undefined {
    const v = this.get(k);
    if (v !== undefined && typeof v !== 'string') throw invalid(k, `"${k}" must be a string, got ${describe(v)}`, 'invalid_type');
    return v;
  }
  bool(k: string): boolean | undefined {
    const v = this.get(k);
    if (v !== undefined && typeof v !== 'boolean') throw invalid(k, `"${k}" must be true or false, got ${describe(v)}`, 'invalid_type');
    return v;
  }
  num(k: string, min: number, max: number, int = false): number | undefined {
    const v = this.get(k);
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isFinite(v) || (int && !Number.isSafeInteger(v)))
      throw invalid(k, `"${k}" must be ${int ? 'an integer' : 'a number'}, got ${describe(v)}`, 'invalid_type');
    if (v < min || v > max) throw invalid(k, `"${k}" must be between ${min} and ${max}, got ${v}`);
    return v;
  }
  stop(k: string): string[] {
    const v = this.get(k);
    if (v === undefined) return [];
    const list = typeof v === 'string' ? [v] : v;
    if (!Array.isArray(list) || !list.every((s) => typeof s === 'string' && s.length > 0))
      throw invalid(k, `"${k}" must be a non-empty string or an array of non-empty strings, got ${describe(v)}`, 'invalid_type');
    if (list.length > 16) throw invalid(k, `"${k}" may hold at most 16 sequences, got ${list.length}`);
    return list as string[];
  }
}

export const isIds = (p: unknown): p is number[] => Array.isArray(p) && p.length > 0 && p.every((t) => Number.isSafeInteger(t) && t >= 0);

const ROLES = ['system', 'developer', 'user', 'assistant', 'tool'];

export function parseMessages(v: unknown): ChatMessage[] {
  if (v === undefined || v === null) throw invalid('messages', '"messages" is required', 'missing_required_parameter');
  if (!Array.isArray(v)) throw invalid('messages', `"messages" must be an array, got ${describe(v)}`, 'invalid_type');
  if (v.length === 0) throw invalid('messages', '"messages" must not be empty', 'empty_array');
  return v.map((m: unknown, i) => {
    const at = `messages[${i}]`;
    if (typeof m !== 'object' || m === null || Array.isArray(m))
      throw invalid(at, `"${at}" must be an object, got ${describe(m)}`, 'invalid_type');
    const msg = m as Body;
    for (const k of Object.keys(msg))
      if (!['role', 'content', 'name', 'tool_calls', 'tool_call_id'].includes(k))
        throw invalid(`${at}.${k}`, `unknown field "${at}.${k}"`, 'unknown_parameter');
    const role = msg['role'];
    if (typeof role !== 'string' || !ROLES.includes(role))
      throw invalid(`${at}.role`, `"${at}.role" must be one of ${ROLES.join(' | ')}, got ${describe(role)}`, 'invalid_value');
    if (msg['name'] !== undefined && typeof msg['name'] !== 'string')
      throw invalid(`${at}.name`, `"${at}.name" must be a string`, 'invalid_type');
    const calls = msg['tool_calls'];
    if (
      calls !== undefined &&
      calls !== null &&
      (role !== 'assistant' ||
        !Array.isArray(calls) ||
        !calls.every(
          (c) =>
            typeof c === 'object' &&
            c !== null &&
            typeof (c as Body)['id'] === 'string' &&
            typeof ((c as Body)['function'] as Body | undefined)?.['name'] === 'string' &&
            typeof ((c as Body)['function'] as Body | undefined)?.['arguments'] === 'string',
        ))
    ) {
      throw invalid(
        `${at}.tool_calls`,
        `"${at}.tool_calls" belongs to an assistant message: [{id, type: "function", function: {name, arguments: string}}]`,
        'invalid_value',
      );
    }
    if (role === 'tool' && typeof msg['tool_call_id'] !== 'string')
      throw invalid(
        `${at}.tool_call_id`,
        `"${at}.tool_call_id" is required on a tool message (the call it answers)`,
        'missing_required_parameter',
      );
    const c = msg['content'];
    let content: string;
    if (typeof c === 'string') content = c;
    else if ((c === null || c === undefined) && Array.isArray(calls))
      content = ''; // an assistant turn that only called tools
    else if (Array.isArray(c)) {
      content = c
        .map((part: unknown, j) => {
          const p = part as Body | null;
          if (typeof p !== 'object' || p === null || p['type'] !== 'text' || typeof p['text'] !== 'string')
            throw invalid(
              `${at}.content[${j}]`,
              `"${at}.content[${j}]" must be {type: "text", text: string} (only text is supported)`,
              'invalid_type',
            );
          return p['text'] as string;
        })
        .join('');
    } else throw invalid(`${at}.content`, `"${at}.content" must be a string or an array of text parts, got ${describe(c)}`, 'invalid_type');
    const extra = {
      ...(Array.isArray(calls) ? { tool_calls: calls as NonNullable<ChatMessage['tool_calls']> } : {}),
      ...(typeof msg['tool_call_id'] === 'string' ? { tool_call_id: msg['tool_call_id'] } : {}),
      ...(typeof msg['name'] === 'string' ? { name: msg['name'] } : {}),
    };
    return { role: role === 'developer' ? 'system' : role, content, ...extra };
  });
}

/** llama-server input_extra: [{filename, text}] chunks of context, prepended to the prefix */
export function parseExtra(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (!Array.isArray(v))
    throw invalid('input_extra', `"input_extra" must be an array of {filename, text}, got ${describe(v)}`, 'invalid_type');
  return v
    .map((c: unknown, i) => {
      const e = c as Body | null;
      if (
        typeof e !== 'object' ||
        e === null ||
        typeof e['text'] !== 'string' ||
        (e['filename'] !== undefined && typeof e['filename'] !== 'string')
      ) {
        throw invalid(`input_extra[${i}]`, `"input_extra[${i}]" must be {filename?: string, text: string}`, 'invalid_type');
      }
      return (
        (e['filename'] ? `${e['filename'] as string}\n` : '') + (e['text'] as string) + ((e['text'] as string).endsWith('\n') ? '' : '\n')
      );
    })
    .join('');
}

/**
 * json_object has no schema to pin, so it gets one: an object with a single string field "text" — valid JSON by
 * construction, the model writing the value (a code model is not an assistant that invents keys)
 */
export const JSON_OBJECT_SCHEMA = {
  type: 'object',
  properties: { text: { type: 'string', maxLength: 64 } },
  required: ['text'],
  additionalProperties: false,
};

export function parseResponseFormat(v: unknown): ResponseFormat | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'object' || Array.isArray(v))
    throw invalid('response_format', `"response_format" must be an object, got ${describe(v)}`, 'invalid_type');
  const r = v as Body,
    type = r['type'];
  for (const k of Object.keys(r))
    if (k !== 'type' && k !== 'json_schema')
      throw invalid(`response_format.${k}`, `unknown field "response_format.${k}"`, 'unknown_parameter');
  if (type === 'text') return null;
  if (type === 'json_object') return { type, name: 'json_object', schema: JSON_OBJECT_SCHEMA, strict: true };
  if (type !== 'json_schema')
    throw invalid(
      'response_format.type',
      `"response_format.type" must be text | json_object | json_schema, got ${describe(type)}`,
      'invalid_value',
    );
  const js = r['json_schema'] as Body | undefined;
  if (typeof js !== 'object' || js === null || Array.isArray(js))
    throw invalid('response_format.json_schema', '"response_format.json_schema" must be an object {name, schema, strict}', 'invalid_type');
  for (const k of Object.keys(js))
    if (!['name', 'schema', 'strict', 'description'].includes(k))
      throw invalid(`response_format.json_schema.${k}`, `unknown field "response_format.json_schema.${k}"`, 'unknown_parameter');
  if (typeof js['name'] !== 'string' || !/^[\w-]{1,64}$/.test(js['name']))
    throw invalid(
      'response_format.json_schema.name',
      '"response_format.json_schema.name" must be 1-64 letters, digits, _ or -',
      'invalid_value',
    );
  if (typeof js['schema'] !== 'object' || js['schema'] === null)
    throw invalid(
      'response_format.json_schema.schema',
      '"response_format.json_schema.schema" must be a JSON Schema object',
      'invalid_type',
    );
  return { type, name: js['name'], schema: js['schema'], strict: js['strict'] === true };
}
