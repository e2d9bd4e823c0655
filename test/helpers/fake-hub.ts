// A stand-in for the Hugging Face Hub on 127.0.0.1 (this machine cannot reach the real one), serving the routes
// a pull uses, with the headers the Hub sends:
//   GET  /api/models/ORG/NAME/revision/REV   {id, sha, siblings: [{rfilename}]}
//   HEAD /ORG/NAME/resolve/REV/FILE          small file: 200, ETag = git blob sha1, Content-Length, X-Repo-Commit
//                                            LFS file (*.safetensors): 302 to /cdn/… on another origin (a second
//                                            port, as the Hub's CDN is another host), X-Linked-Etag = sha256, X-Linked-Size
//   GET  the same (following the redirect)   the bytes, with Range (206) support
// and the faults a test needs: a connection cut halfway through a file (once), bytes that do not match the
// advertised hash, a required Bearer token. Every request is recorded.
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface FakeRepo {
  id: string;
  commit: string;
  files: Map<string, Buffer>;
}

export interface FakeHubOptions {
  repos: FakeRepo[];
  /** answer 401 unless this Bearer token is sent to the API and resolve routes */
  token?: string;
  /** the first GET of this file sends half of it, then the connection is destroyed */
  cutOnce?: string;
  /** this file's bytes are served with one byte changed (its metadata still describes the real file) */
  corrupt?: string;
  /** answer a Range request with the whole file (200), as a server without range support does */
  ignoreRange?: boolean;
}

export interface RecordedRequest {
  method: string;
  path: string;
  range: string | null;
  authorization: string | null;
}

export interface FakeHub {
  url: string;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

export const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
export const gitSha1 = (b: Buffer): string => createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex');
export const isLfs = (name: string): boolean => name.endsWith('.safetensors');

/** a repo holding the model files of a folder (a test fixture) at a made-up commit */
export function repoFromFolder(id: string, dir: string): FakeRepo {
  const files = new Map<string, Buffer>();
  for (const n of readdirSync(dir).sort())
    if (n !== 'reference.safetensors' && n !== 'MANIFEST.json') files.set(n, readFileSync(join(dir, n)));
  return { id, commit: createHash('sha1').update(id).digest('hex'), files };
}

export async function startFakeHub(o: FakeHubOptions): Promise<FakeHub> {
  const requests: RecordedRequest[] = [];
  let cut = false;
  const authorized = (req: IncomingMessage) => !o.token || req.headers.authorization === `Bearer ${o.token}`;

  const sendBytes = (req: IncomingMessage, res: ServerResponse, name: string, data: Buffer) => {
    if (o.corrupt === name) {
      data = Buffer.from(data);
      data[data.length >> 1]! ^= 0xff;
    }
    const m = o.ignoreRange ? null : /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const start = m ? Number(m[1]) : 0;
    if (start > data.length) {
      res.writeHead(416, { 'content-range': `bytes */${data.length}` }).end();
      return;
    }
    res.writeHead(m ? 206 : 200, {
      'content-length': String(data.length - start),
      'accept-ranges': 'bytes',
      ...(m ? { 'content-range': `bytes ${start}-${data.length - 1}/${data.length}` } : {}),
    });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    if (o.cutOnce === name && !cut) {
      cut = true;
      // half the bytes on the wire, then the connection dies (the client sees a body shorter than its length)
      res.write(data.subarray(start, start + ((data.length - start) >> 1)), () => res.socket?.destroy());
      return;
    }
    res.end(data.subarray(start));
  };

  let cdnOrigin = '';
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const path = decodeURIComponent(url.pathname);
    requests.push({ method: req.method ?? '', path, range: req.headers.range ?? null, authorization: req.headers.authorization ?? null });
    const api = /^\/api\/models\/([^/]+\/[^/]+)\/revision\/(.+)$/.exec(path);
    const resolve = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(path);
    const cdn = /^\/cdn\/([^/]+\/[^/]+)\/(.+)$/.exec(path);
    const repo = o.repos.find((r) => r.id === (api ?? resolve ?? cdn)?.[1]);
    const notFound = (code: string) =>
      res.writeHead(404, { 'x-error-code': code, 'content-type': 'application/json' }).end(JSON.stringify({ error: code }));
    if ((api || resolve) && !authorized(req)) {
      res.writeHead(401, { 'x-error-message': 'Invalid credentials in Authorization header' }).end();
      return;
    }
    if (!repo) {
      notFound('RepoNotFound');
      return;
    }
    if (api) {
      if (api[2] !== 'main' && api[2] !== repo.commit) {
        notFound('RevisionNotFound');
        return;
      }
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ id: repo.id, sha: repo.commit, siblings: [...repo.files.keys()].map((rfilename) => ({ rfilename })) }));
      return;
    }
    const name = resolve ? resolve[3]! : cdn![2]!;
    const data = repo.files.get(name);
    if (!data) {
      notFound('EntryNotFound');
      return;
    }
    if (resolve && resolve[2] !== 'main' && resolve[2] !== repo.commit) {
      notFound('RevisionNotFound');
      return;
    }
    if (resolve && isLfs(name)) {
      // the Hub's answer for an LFS file: a redirect to the CDN, with the file's metadata on the redirect
      res
        .writeHead(302, {
          location: `${cdnOrigin}/cdn/${repo.id}/${name}`,
          'x-repo-commit': repo.commit,
          etag: `"${sha256(data)}"`,
          'x-linked-etag': `"${sha256(data)}"`,
          'x-linked-size': String(data.length),
          'content-length': '0',
        })
        .end();
      return;
    }
    if (resolve) {
      res.setHeader('x-repo-commit', repo.commit);
      res.setHeader('etag', `"${gitSha1(data)}"`);
    }
    sendBytes(req, res, name, data);
  };
  const servers = [createServer(handler), createServer(handler)];
  const urls: string[] = [];
  for (const s of servers) {
    await new Promise<void>((ok) => s.listen(0, '127.0.0.1', ok));
    urls.push(`http://127.0.0.1:${(s.address() as AddressInfo).port}`);
  }
  cdnOrigin = urls[1]!;
  return {
    url: urls[0]!,
    requests,
    close: () =>
      Promise.all(
        servers.map(
          (s) =>
            new Promise<void>((ok) => {
              s.closeAllConnections();
              s.close(() => ok());
            }),
        ),
      ).then(() => {}),
  };
}
