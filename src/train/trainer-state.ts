// trainer_state.json of a checkpoint: where training stands (step, tokens, time, RNG state, optimizer step)
// and the TrainConfig it ran with. Parsed as strictly as a config: unknown keys and wrong types are refused,
// numbers must be finite and in range, and the RNG state must be one a generator can continue from — a
// resume from a damaged file would otherwise train on (negative learning rate at step -5, a stuck RNG at
// [0,0,0,0], bias correction restarted at optimizerStep null) without a word.
// Both engines write this file: the TypeScript one keeps its xoshiro128** state in `rng`; the torch one
// (engine "torch") leaves `rng` empty and keeps numpy's PCG64 state in `numpyRng`.
import { parseTrainConfig, type TrainConfig } from './config.js';

export const CHECKPOINT_FORMAT = 'dllm-checkpoint';
export const CHECKPOINT_VERSION = 1;

export interface NumpyRngState {
  bit_generator: string;
  state: { state: number; inc: number };
  has_uint32: number;
  uinteger: number;
}

export interface TrainerStateFile {
  format: string;
  version: number;
  engine?: 'ts' | 'torch';
  step: number;
  tokens: number;
  elapsedMs: number;
  rng: number[]; // 4 uint32 words (TypeScript engine), [] (torch engine)
  optimizerStep: number;
  config: TrainConfig;
  numpyRng?: NumpyRngState; // torch engine only
}

const KEYS = new Set(['format', 'version', 'engine', 'step', 'tokens', 'elapsedMs', 'rng', 'optimizerStep', 'config', 'numpyRng']);
type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => !!v && typeof v === 'object' && !Array.isArray(v);
/** a value for a message: numbers as written (JSON.stringify would print Infinity, from 1e400 in the file, as null) */
const show = (v: unknown): string => (typeof v === 'number' ? String(v) : JSON.stringify(v));

/** `where` names the file: every error says which file and which field */
export function parseTrainerState(input: unknown, where = 'trainer_state.json'): TrainerStateFile {
  if (!isObject(input)) throw new Error(`${where}: must be a JSON object`);
  for (const k of Object.keys(input)) if (!KEYS.has(k)) throw new Error(`${where}: unknown key "${k}"`);
  const s = input;
  if (s['format'] !== CHECKPOINT_FORMAT)
    throw new Error(`${where}: "format" is ${JSON.stringify(s['format'])}, not a dllm checkpoint ("${CHECKPOINT_FORMAT}")`);
  if (s['version'] !== CHECKPOINT_VERSION)
    throw new Error(`${where}: "version" is ${JSON.stringify(s['version'])}, this dllm reads checkpoint version ${CHECKPOINT_VERSION}`);
  const engine = s['engine'];
  if (engine !== undefined && engine !== 'ts' && engine !== 'torch')
    throw new Error(`${where}: "engine" must be "ts" or "torch", got ${JSON.stringify(engine)}`);
  const count = (key: string): number => {
    const v = s[key];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)
      throw new Error(`${where}: "${key}" must be an integer ≥ 0, got ${show(v)}`);
    return v;
  };
  const step = count('step'),
    tokens = count('tokens'),
    optimizerStep = count('optimizerStep');
  const elapsedMs = s['elapsedMs'];
  if (typeof elapsedMs !== 'number' || !Number.isFinite(elapsedMs) || elapsedMs < 0) {
    throw new Error(`${where}: "elapsedMs" must be a finite number ≥ 0, got ${show(elapsedMs)}`);
  }
  // one AdamW update per step, so the optimizer can never be ahead of the step count
  if (optimizerStep > step) throw new Error(`${where}: "optimizerStep" ${optimizerStep} is past "step" ${step}`);
  const rng = parseRng(s['rng'], engine === 'torch', where);
  if (!isObject(s['config'])) throw new Error(`${where}: "config" must be a JSON object (the run's TrainConfig)`);
  const config = parseTrainConfig(s['config'], undefined, `${where}: "config"`);
  const out: TrainerStateFile = {
    format: CHECKPOINT_FORMAT,
    version: CHECKPOINT_VERSION,
    step,
    tokens,
    elapsedMs,
    rng,
    optimizerStep,
    config,
  };
  if (engine !== undefined) out.engine = engine;
  if (s['numpyRng'] !== undefined) out.numpyRng = parseNumpyRng(s['numpyRng'], where);
  else if (engine === 'torch') throw new Error(`${where}: "numpyRng" is missing (a torch-engine checkpoint keeps its data order there)`);
  return out;
}

function parseRng(v: unknown, torch: boolean, where: string): number[] {
  if (!Array.isArray(v)) throw new Error(`${where}: "rng" must be an array of 4 uint32 words, got ${JSON.stringify(v)}`);
  if (torch && v.length === 0) return [];
  if (v.length !== 4 || !v.every((x) => Number.isInteger(x) && x >= 0 && x <= 0xffffffff)) {
    throw new Error(`${where}: "rng" must be 4 uint32 words, got ${JSON.stringify(v)}`);
  }
  // xoshiro128** never leaves the all-zero state: it would draw 0 forever
  if (v.every((x) => x === 0)) throw new Error(`${where}: "rng" is all zero, a state the generator cannot continue from`);
  return v as number[];
}

function parseNumpyRng(v: unknown, where: string): NumpyRngState {
  const at = `${where}: "numpyRng"`;
  if (!isObject(v) || v['bit_generator'] !== 'PCG64' || !isObject(v['state']))
    throw new Error(`${at} must be numpy's PCG64 state {bit_generator: "PCG64", state: {state, inc}, …}`);
  const st = v['state'];
  for (const k of ['state', 'inc'] as const) {
    const x = st[k];
    if (typeof x !== 'number' || !Number.isInteger(x) || x < 0)
      throw new Error(`${at}.state.${k} must be a non-negative integer, got ${JSON.stringify(x)}`);
  }
  // PCG64's increment is always odd; 0 means the state was wiped
  if (st['inc'] === 0) throw new Error(`${at}.state.inc is 0, not a PCG64 state`);
  return v as unknown as NumpyRngState;
}
