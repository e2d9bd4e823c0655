// Licences of packaged source files, from Debian's machine-readable copyright files (DEP-5,
// https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/): stanzas of `Files:` globs and a
// `License:` expression; for a given file the last stanza whose pattern matches wins. Files installed under
// /usr/lib/python3/dist-packages/ lose their source-tree prefix, so a pattern matches the installed path or
// any '/'-aligned suffix of it. A copyright file that is not DEP-5 falls back to one licence recognised in
// its text (exactly one family, else unknown). Only licences in the allowlist are kept.

export interface CopyrightStanza {
  files: string[]; // DEP-5 globs: '*' any run of characters (including '/'), '?' one character
  licence: string; // the License: expression's first line, e.g. "BSD-3-clause or GPL-2+"
}

export interface Copyright {
  machineReadable: boolean;
  stanzas: CopyrightStanza[];
  textLicence: string | null; // non-DEP-5: the one licence family found in the text
}

/** licence short names (lower-cased, DEP-5 / SPDX spellings) that may be trained on and redistributed */
export const ALLOWED_LICENCES: readonly string[] = [
  'mit',
  'expat',
  'mit/x11',
  'x11',
  'bsd-2-clause',
  'bsd-3-clause',
  'bsd-4-clause-uc',
  'bsd',
  'bsd-like',
  'bsd-3-clause-lbnl',
  'apache-2.0',
  'apache-2',
  'apache',
  'psf',
  'psf-2',
  'psf-2.0',
  'python',
  'python-2.0',
  'psf-license',
  'isc',
  'zlib',
  'public-domain',
  'cc0',
  'cc0-1.0',
  'unlicense',
  'hpnd',
  '0bsd',
  'mit-cmu',
  'boost-1.0',
  'bsl-1.0',
  'wtfpl',
];

// non-DEP-5 copyright text: the phrase each family's licence text carries
const TEXT_MARKERS: readonly [string, RegExp][] = [
  ['gpl', /GNU (Affero |Lesser |Library )?General Public License/i],
  ['mpl', /Mozilla Public License/i],
  ['apache-2.0', /Apache License,? Version 2\.0/i],
  ['mit', /Permission is hereby granted, free of charge/i],
  ['bsd', /Redistribution and use in source and binary forms/i],
  ['psf', /PYTHON SOFTWARE FOUNDATION LICENSE/i],
];

export function parseCopyright(text: string): Copyright {
  const machineReadable = /^Format:\s*\S*copyright-format/im.test(text);
  if (!machineReadable) {
    const found = TEXT_MARKERS.filter(([, re]) => re.test(text)).map(([name]) => name);
    return { machineReadable, stanzas: [], textLicence: found.length === 1 ? found[0]! : null };
  }
  const stanzas: CopyrightStanza[] = [];
  for (const para of text.replace(/\r/g, '').split(/\n[ \t]*\n/)) {
    const fields = new Map<string, string>();
    let key = '';
    for (const line of para.split('\n')) {
      const m = /^([A-Za-z][A-Za-z0-9-]*):(.*)$/.exec(line);
      if (m) {
        key = m[1]!.toLowerCase();
        fields.set(key, m[2]!.trim());
      } else if (key && /^[ \t]/.test(line)) fields.set(key, `${fields.get(key)}\n${line.trim()}`);
    }
    const files = fields.get('files'),
      licence = fields.get('license');
    if (files === undefined || licence === undefined) continue; // header, or a standalone License: paragraph
    stanzas.push({ files: files.split(/\s+/).filter(Boolean), licence: licence.split('\n')[0]!.trim() });
  }
  return { machineReadable, stanzas, textLicence: null };
}

function globToRegExp(glob: string): RegExp {
  const body = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}

/** the licence expression that applies to `path` (relative to the package's Python root), or null */
export function licenceFor(c: Copyright, path: string): string | null {
  if (!c.machineReadable) return c.textLicence;
  const suffixes = [path];
  for (let i = path.indexOf('/'); i >= 0; i = path.indexOf('/', i + 1)) suffixes.push(path.slice(i + 1));
  let found: string | null = null;
  for (const s of c.stanzas) {
    if (
      s.files.some((g) => {
        const re = globToRegExp(g);
        return suffixes.some((p) => re.test(p));
      })
    )
      found = s.licence;
  }
  return found;
}

/**
 * Whether a licence expression allows training: "A or B" needs one allowed alternative, "A and B" (or
 * "A, B") needs every part allowed; version suffixes such as "+" are ignored for the allowlist.
 */
export function licenceAllowed(expr: string | null): boolean {
  if (!expr) return false;
  return expr
    .toLowerCase()
    .split(/\s+or\s+|\s*\|\s*/)
    .some((alt) =>
      alt.split(/\s+and\s+|\s*,\s*|\s*&\s*/).every((part) => {
        const name = part
          .trim()
          .replace(/\s+with\s+.*$/, '')
          .replace(/\+$/, '');
        return ALLOWED_LICENCES.includes(name);
      }),
    );
}
