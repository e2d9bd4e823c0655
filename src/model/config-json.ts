// Typed reads of config.json values, each error naming the file and the key (shared by config.ts and
// config-moe.ts). `fallback` undefined = the key is required.
export type Json = Record<string, unknown>;

export function num(cfg: Json, key: string, where: string, fallback?: number): number {
  const v = cfg[key];
  if (v === undefined && fallback !== undefined) return fallback;
  if (v === undefined) throw new Error(`${where}: "${key}" is missing (a number is required)`);
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${where}: "${key}" must be a number, got ${JSON.stringify(v)}`);
  return v;
}

export function int(cfg: Json, key: string, where: string, fallback?: number, max = Number.MAX_SAFE_INTEGER): number {
  const v = num(cfg, key, where, fallback);
  if (!Number.isInteger(v) || v <= 0) throw new Error(`${where}: "${key}" must be a positive integer, got ${v}`);
  if (v > max) throw new Error(`${where}: "${key}" is ${v}, over dllm's limit of ${max} (a corrupt or hostile config?)`);
  return v;
}

export function bool(cfg: Json, key: string, where: string, fallback?: boolean): boolean {
  const v = cfg[key];
  if (v === undefined && fallback !== undefined) return fallback;
  if (v === undefined) throw new Error(`${where}: "${key}" is missing (true or false is required)`);
  if (typeof v !== 'boolean') throw new Error(`${where}: "${key}" must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

/** a key that must be present, even when its value may be null (the config class's default is not trusted) */
export function present(cfg: Json, key: string, where: string, why: string): unknown {
  if (!(key in cfg)) throw new Error(`${where}: "${key}" is missing; ${why}`);
  return cfg[key];
}

/** a key whose only supported values are `allowed` (absent counts as null) */
export function oneOf(cfg: Json, key: string, where: string, allowed: readonly unknown[]): void {
  const v = cfg[key] ?? null;
  if (!allowed.includes(v))
    throw new Error(
      `${where}: "${key}" = ${JSON.stringify(v)} is not supported (dllm supports ${allowed.map((a) => JSON.stringify(a)).join(', ')})`,
    );
}
