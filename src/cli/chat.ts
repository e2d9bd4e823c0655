// dllm chat --model DIR [decoder flags]: multi-turn chat through the checkpoint's own chat template, as
// LLaDA's chat.py does: the whole conversation is re-rendered each turn, the answer is decoded with the
// diffusion decoder (chat.py: gen 128, steps 128, block 32, low_confidence) and cut at EOS/EoT.
import { createInterface } from 'node:readline/promises';
import { parseArgs } from 'node:util';
import { parseBackend } from '../platform/node-backend.js';
import { loadModel } from '../platform/node-generator.js';
import type { ChatMessage } from '../tokenizer/index.js';

/** the flags of the command (usage.ts lists them) */
export const CHAT_FLAGS = {
  model: { type: 'string' },
  'gen-length': { type: 'string', default: '128' },
  steps: { type: 'string', default: '128' },
  'block-length': { type: 'string', default: '32' },
  system: { type: 'string' },
  backend: { type: 'string' },
} as const;

export async function chat(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: CHAT_FLAGS,
  });
  if (!values.model) throw new Error('usage: dllm chat --model DIR (a model with a chat template)');
  const genLength = Number(values['gen-length']),
    steps = Number(values.steps),
    blockLength = Number(values['block-length']);
  for (const [flag, v] of [
    ['--gen-length', genLength],
    ['--steps', steps],
    ['--block-length', blockLength],
  ] as const) {
    if (!Number.isInteger(v) || v <= 0) throw new Error(`${flag} must be a positive integer`);
  }
  const lm = await loadModel(values.model, { backend: parseBackend(values.backend) });
  try {
    if (!lm.tokenizer.chatTemplate) throw new Error(`${values.model} has no chat_template in tokenizer_config.json; use \`dllm generate\``);
    if (lm.kind !== 'diffusion') throw new Error(`${values.model}: no mask token; chat needs a diffusion model`);
    const messages: ChatMessage[] = values.system ? [{ role: 'system', content: values.system }] : [];
    const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: process.stdin.isTTY === true });
    console.error('chat: an empty line or Ctrl-D ends the conversation');
    const prompt = () => {
      if (process.stdin.isTTY) process.stdout.write('> ');
    };
    prompt();
    // async iteration ends cleanly at end of input (rl.question would wait forever on a closed pipe)
    for await (const line of rl) {
      if (!line.trim()) break;
      messages.push({ role: 'user', content: line });
      const { text: answer } = await lm.chat(messages, { decoder: 'fixed', maxTokens: genLength, steps, blockLength, earlyStop: true }); // stops before the first EOS/EoT
      messages.push({ role: 'assistant', content: answer });
      console.log(answer);
      prompt();
    }
    rl.close();
    return 0;
  } finally {
    lm.dispose();
  }
}
