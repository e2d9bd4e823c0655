// CLI flags that map 1:1 to the keys of a typed config (--lr-max ↔ lrMax): the option table and the
// conversion of flag strings to the type of each key's default. The config's own parse() does the rest.

export const kebab = (k: string) => k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());

/** parseArgs options: one string flag per key of `defaults` */
export function flagOptions(defaults: object): Record<string, { type: 'string' }> {
  return Object.fromEntries(Object.keys(defaults).map((k) => [kebab(k), { type: 'string' as const }]));
}

/** a true|false flag's value */
export function parseBoolFlag(flag: string, s: string): boolean {
  if (s !== 'true' && s !== 'false') throw new Error(`--${flag} must be true or false, got "${s}"`);
  return s === 'true';
}

/** the flags that were given, converted to the type of each key's default value */
export function flagValues(values: Record<string, unknown>, defaults: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, def] of Object.entries(defaults)) {
    const v = values[kebab(key)];
    if (v === undefined) continue;
    const s = String(v);
    if (typeof def === 'number') {
      const n = Number(s);
      if (s.trim() === '' || !Number.isFinite(n)) throw new Error(`--${kebab(key)} must be a number, got "${s}"`);
      out[key] = n;
    } else if (typeof def === 'boolean') out[key] = parseBoolFlag(kebab(key), s);
    else out[key] = s;
  }
  return out;
}

/** `--help` text: a usage line, then one line per flag of `defaults` with its default value */
export function flagHelp(usage: string, defaults: object, extra: ReadonlyArray<[string, string]> = []): string {
  const rows: Array<[string, string]> = [
    ...extra,
    ...Object.entries(defaults).map(([k, v]): [string, string] => [
      `--${kebab(k)} ${typeof v === 'boolean' ? 'true|false' : 'X'}`,
      `default ${JSON.stringify(v)}`,
    ]),
  ];
  const w = Math.max(...rows.map((r) => r[0].length));
  return `${usage}\n\n${rows.map(([f, d]) => `  ${f.padEnd(w)}  ${d}`).join('\n')}`;
}
