// The few file operations a checkpoint commit needs, each durable when it resolves: a written file is
// fsynced, and syncDir makes renames and new entries of a folder survive a power cut (POSIX says a rename is
// durable only once its directory is fsynced). An interface, so a test can fail any single operation and
// check that every state left behind can be recovered (test/train/checkpoint-kill.test.ts).
import { mkdir, open, readdir, rename, rm } from 'node:fs/promises';

export interface DurableFs {
  mkdir(path: string): Promise<void>;
  /** create or replace a file and fsync it */
  writeFile(path: string, data: Uint8Array | string): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  /** remove a file or folder tree; absent is fine */
  rm(path: string): Promise<void>;
  /** fsync a folder, so the entries created or renamed in it are on disk */
  syncDir(path: string): Promise<void>;
  /** entries of a folder, [] when it does not exist */
  list(path: string): Promise<string[]>;
}

export const nodeDurableFs: DurableFs = {
  async mkdir(path) {
    await mkdir(path, { recursive: true });
  },
  async writeFile(path, data) {
    const fh = await open(path, 'w');
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
  },
  rename,
  async rm(path) {
    await rm(path, { recursive: true, force: true });
  },
  async syncDir(path) {
    const fh = await open(path, 'r');
    try {
      await fh.sync();
    } catch (e) {
      // some platforms (Windows, a few network file systems) cannot fsync a directory: nothing more to do there
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'EISDIR' && code !== 'EINVAL' && code !== 'EPERM' && code !== 'EBADF') throw e;
    } finally {
      await fh.close();
    }
  },
  async list(path) {
    try {
      return await readdir(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
  },
};
