// OpenAI tool calling on the chat route: `tools`, `tool_choice` (auto | none | required | a named function),
// `parallel_tool_calls`; tool calls read back from the model's text in the formats real templates use —
// Hermes / Qwen `<tool_call>{"name", "arguments"}</tool_call>` (LLaDA2.0's Bailing v2 template writes the same
// block inside its `<role>ASSISTANT</role>` turn), the GLM-4.5 / Ling-3 pairs `<tool_call>name<arg_key>k</arg_key>
// <arg_value>v</arg_value></tool_call>`, and Llama-3's bare JSON `{"name", "parameters"}`.
// A forced call (a named function, or `required`) is structured instead: on a diffusion canvas the
// `<tool_call>` wrapper, the name and the arguments' JSON skeleton from the function's parameter schema are
// pinned (text/structured.ts); a choice among several tools, or a causal model, is masked token by token
// (text/json-mask.ts). Either way the call always parses and validates.
import type { ChatMessage, ChatTool } from '../tokenizer/index.js';
import { invalid } from './errors.js';

export type ToolChoice = 'auto' | 'none' | 'required' | { name: string };
export interface ToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

type Body = Record<string, unknown>;

/** what Hermes-style templates wrap a call in; also our canvas skeleton's wrapper */
export const TOOL_CALL_OPEN = '<tool_call>\n',
  TOOL_CALL_CLOSE = '\n</tool_call>';

export function parseTools(v: unknown): ChatTool[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v))
    throw invalid('tools', '"tools" must be an array of {type: "function", function: {name, description, parameters}}', 'invalid_type');
  const names = new Set<string>();
  return v.map((t: unknown, i) => {
    const at = `tools[${i}]`,
      b = t as Body | null;
    if (typeof b !== 'object' || b === null || b['type'] !== 'function')
      throw invalid(`${at}.type`, `"${at}.type" must be "function"`, 'invalid_value');
    const f = b['function'] as Body | undefined;
    if (typeof f !== 'object' || f === null) throw invalid(`${at}.function`, `"${at}.function" must be an object`, 'invalid_type');
    for (const k of Object.keys(f))
      if (!['name', 'description', 'parameters', 'strict'].includes(k))
        throw invalid(`${at}.function.${k}`, `unknown field "${at}.function.${k}"`, 'unknown_parameter');
    const name = f['name'];
    if (typeof name !== 'string' || !/^[\w-]{1,64}$/.test(name))
      throw invalid(`${at}.function.name`, `"${at}.function.name" must be 1-64 letters, digits, _ or -`, 'invalid_value');
    if (names.has(name)) throw invalid(`${at}.function.name`, `two tools are called "${name}"`, 'invalid_value');
    names.add(name);
    const p = f['parameters'];
    if (p !== undefined && (typeof p !== 'object' || p === null || Array.isArray(p)))
      throw invalid(`${at}.function.parameters`, `"${at}.function.parameters" must be a JSON Schema object`, 'invalid_type');
    return {
      type: 'function' as const,
      function: {
        name,
        ...(typeof f['description'] === 'string' ? { description: f['description'] } : {}),
        parameters: (p as Record<string, unknown>) ?? { type: 'object', properties: {} },
      },
    };
  });
}

export function parseToolChoice(v: unknown, tools: readonly ChatTool[]): ToolChoice {
  if (v === undefined || v === null) return tools.length ? 'auto' : 'none';
  if (v === 'auto' || v === 'none' || v === 'required') {
    if (v !== 'none' && tools.length === 0) throw invalid('tool_choice', `"tool_choice": "${v}" needs "tools"`, 'invalid_value');
    return v;
  }
  const b = v as Body | null,
    name = (b?.['function'] as Body | undefined)?.['name'];
  if (typeof b !== 'object' || b === null || b['type'] !== 'function' || typeof name !== 'string')
    throw invalid('tool_choice', '"tool_choice" must be auto | none | required | {type: "function", function: {name}}', 'invalid_value');
  if (!tools.some((t) => t.function.name === name))
    throw invalid('tool_choice', `"tool_choice" names "${name}", which is not in "tools"`, 'invalid_value');
  return { name };
}

/**
 * the schema of the call a request forces (null: auto / none): a named tool's, or with "required" the
 * choice among all tools (anyOf: masked token by token, since a canvas pins one structure)
 */
export function callSchemaFor(tools: readonly ChatTool[], choice: ToolChoice): { schema: Record<string, unknown>; what: string } | null {
  if (typeof choice === 'object') {
    const t = tools.find((x) => x.function.name === choice.name)!;
    return { schema: callSchema(t), what: `tool "${t.function.name}"` };
  }
  if (choice !== 'required') return null;
  if (tools.length === 1) return { schema: callSchema(tools[0]!), what: `tool "${tools[0]!.function.name}"` };
  return { schema: { anyOf: tools.map(callSchema) }, what: `tools ${tools.map((t) => `"${t.function.name}"`).join(', ')}` };
}

/** the schema a forced call's canvas is built from: {"name": const, "arguments": the parameters} */
export const callSchema = (t: ChatTool): Record<string, unknown> => ({
  type: 'object',
  properties: { name: { const: t.function.name }, arguments: t.function.parameters ?? { type: 'object', properties: {} } },
  required: ['name', 'arguments'],
  additionalProperties: false,
});

/**
 * tools for a template that does not render them (our code models): a system message that lists them in the
 * Hermes format, so the model sees what it may call
 */
export function toolSystemMessage(tools: readonly ChatTool[]): ChatMessage {
  return {
    role: 'system',
    content: `You may call these tools, one JSON object per call inside ${TOOL_CALL_OPEN.trim()}…${TOOL_CALL_CLOSE.trim()}:\n${tools.map((t) => JSON.stringify(t.function)).join('\n')}`,
  };
}

let counter = 0;
const callId = () => `call_${Date.now().toString(36)}${(counter++).toString(36).padStart(4, '0')}`;

/**
 * a `<tool_call>` body in the key/value form (GLM-4.5, Ling-3): `name` then `<arg_key>k</arg_key><arg_value>v
 * </arg_value>` pairs. A value is JSON unless the parameter schema says string (the template writes strings raw).
 */
function keyValueCall(body: string, tools: readonly ChatTool[]): { name: string; arguments: Record<string, unknown> } | null {
  const PAIR = '<arg_key>([\\s\\S]*?)</arg_key>\\s*<arg_value>([\\s\\S]*?)</arg_value>';
  const whole = new RegExp(`^([\\w-]+)((?:\\s*${PAIR})*)$`).exec(body),
    tool = whole && tools.find((t) => t.function.name === whole[1]);
  if (!whole || !tool) return null;
  const props = (tool.function.parameters?.['properties'] ?? {}) as Record<string, { type?: unknown }>,
    args: Record<string, unknown> = {};
  for (const [, k, raw] of whole[2]!.matchAll(new RegExp(PAIR, 'g'))) {
    const key = k!.trim();
    args[key] = props[key]?.type === 'string' ? raw! : parseOr(raw!);
  }
  return { name: tool.function.name, arguments: args };
}

const parseOr = (raw: string): unknown => {
  try {
    return JSON.parse(raw);
  } catch {
    return raw; // a value the schema does not type, written raw
  }
};

/** tool calls in the model's text (Hermes or key/value blocks, else one Llama-3 JSON object), for tools that exist */
export function extractToolCalls(text: string, tools: readonly ChatTool[]): { content: string | null; calls: ToolCall[] } {
  const known = new Set(tools.map((t) => t.function.name)),
    calls: ToolCall[] = [];
  const asCall = (j: unknown): ToolCall | null => {
    const o = j as Body | null;
    if (typeof o !== 'object' || o === null || typeof o['name'] !== 'string' || !known.has(o['name'])) return null;
    const args = o['arguments'] ?? o['parameters'] ?? {};
    return {
      id: callId(),
      type: 'function',
      function: { name: o['name'], arguments: typeof args === 'string' ? args : JSON.stringify(args) },
    };
  };
  const rest = text.replace(/<tool_call>\s*([\s\S]*?)\s*<\/tool_call>/g, (whole, body: string) => {
    try {
      const c = asCall(JSON.parse(body));
      if (c) {
        calls.push(c);
        return '';
      }
    } catch {
      const c = keyValueCall(body, tools);
      if (c) {
        calls.push(asCall(c)!);
        return '';
      }
    }
    return whole;
  });
  if (calls.length === 0) {
    const t = text.trim();
    if (t.startsWith('{') && t.endsWith('}')) {
      try {
        const c = asCall(JSON.parse(t));
        if (c) return { content: null, calls: [c] };
      } catch {
        /* text */
      }
    }
  }
  const content = rest.trim();
  return { content: content.length ? content : null, calls };
}

/** a forced call's canvas value ({"name", "arguments"}) → the OpenAI tool call */
export function callFromValue(text: string): ToolCall {
  const v = JSON.parse(text) as { name: string; arguments: unknown };
  return { id: callId(), type: 'function', function: { name: v.name, arguments: JSON.stringify(v.arguments) } };
}
