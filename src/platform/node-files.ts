// Files for the library's byte-level readers: a ByteSource reads ranges of a file on demand, so an 8B
// checkpoint is never copied whole into the JS heap; writes go to a temp file that is renamed into place,
// so an interrupted write never leaves a truncated file behind.
import { open, rename, rm, writeFile, stat, readFile } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { JSON_LIMITS, parseJsonBounded, type JsonLimits } from '../io/json-limits.js';

export interface ByteSource {
  readonly size: number;
  read(offset: number, length: number): Promise<Uint8Array>;
  close?(): Promise<void>;
}

export class FileByteSource implements ByteSource {
  private constructor(
    private readonly fh: FileHandle,
    readonly size: number,
    readonly path: string,
  ) {}

  static async open(path: string): Promise<FileByteSource> {
    const fh = await open(path, 'r');
    const st = await fh.stat();
    return new FileByteSource(fh, st.size, path);
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    if (offset < 0 || length < 0 || offset + length > this.size) {
      throw new Error(`${this.path}: read of ${length} bytes at ${offset} is past the end of the file (${this.size} bytes)`);
    }
    const buf = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await this.fh.read(buf, done, length - done, offset + done);
      if (bytesRead === 0) throw new Error(`${this.path}: file ended early at byte ${offset + done}`);
      done += bytesRead;
    }
    return buf;
  }

  async close(): Promise<void> {
    await this.fh.close();
  }
}

/** write bytes atomically: temp file in the same folder, then rename over the target */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  try {
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

export async function fileExists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** a JSON object from a file, within size and nesting limits (the size checked before the file is read) */
export async function readJsonFile(path: string, limits: JsonLimits = JSON_LIMITS.default): Promise<Record<string, unknown>> {
  let text: string;
  try {
    const size = (await stat(path)).size;
    if (size > limits.maxBytes) throw new Error(`${path}: ${size} bytes, over the ${limits.maxBytes}-byte limit for this file`);
    text = await readFile(path, 'utf8');
  } catch (e) {
    if (!(e as NodeJS.ErrnoException).code) throw e;
    throw new Error(`${path}: cannot read (${(e as NodeJS.ErrnoException).code})`);
  }
  const v = parseJsonBounded(text, limits, path);
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error(`${path}: malformed JSON (not a JSON object)`);
  return v as Record<string, unknown>;
}
