// Test helpers for the installer: a tar writer that can also write what a hostile package would
// (../ paths, links, devices, long names), plugin package fixtures whose install scripts would
// leave a marker file, and a fake npm registry on 127.0.0.1 port 0.
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { DEFAULT_CONFIGURE, PLAIN_INDEX } from '../../helpers/plugin-fixture.ts';

export interface TarEntry {
  name: string;
  data?: string | Buffer;
  /** '0' file, '5' folder, '2' symlink, '1' hardlink, '3' char device, '6' FIFO, 'x' pax header … */
  type?: string;
  linkname?: string;
  /** pax records written in an 'x' header before this entry. */
  pax?: Record<string, string>;
  /** A GNU 'L' long-name entry before this one. */
  gnuLongName?: string;
}

function header(name: string, size: number, type: string, linkname = ''): Buffer {
  const h = Buffer.alloc(512);
  h.write(name.slice(0, 100), 0, 'utf8');
  h.write('0000644\0', 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h.write(`${size.toString(8).padStart(11, '0')}\0`, 124);
  h.write(`${Math.floor(Date.now() / 1000).toString(8).padStart(11, '0')}\0`, 136);
  h.write(type, 156);
  h.write(linkname.slice(0, 100), 157);
  h.write('ustar\0', 257);
  h.write('00', 263);
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  return h;
}

const pad = (data: Buffer): Buffer => Buffer.concat([data, Buffer.alloc((512 - (data.length % 512)) % 512)]);

function paxData(records: Record<string, string>): Buffer {
  let out = '';
  for (const [k, v] of Object.entries(records)) {
    const body = ` ${k}=${v}\n`;
    let len = body.length + 1;
    while (String(len).length + Buffer.byteLength(body) !== len) len = String(len).length + Buffer.byteLength(body);
    out += `${len}${body}`;
  }
  return Buffer.from(out);
}

export function tarBuffer(entries: TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    if (e.pax) {
      const d = paxData(e.pax);
      parts.push(header('PaxHeader', d.length, 'x'), pad(d));
    }
    if (e.gnuLongName) {
      const d = Buffer.from(`${e.gnuLongName}\0`);
      parts.push(header('././@LongLink', d.length, 'L'), pad(d));
    }
    const data = e.data === undefined ? Buffer.alloc(0) : Buffer.from(e.data);
    parts.push(header(e.name, data.length, e.type ?? '0', e.linkname), pad(data));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

export const tgz = (entries: TarEntry[]): Buffer => zlib.gzipSync(tarBuffer(entries));

export const tmpDir = (prefix: string): string => fs.mkdtempSync(path.join(os.tmpdir(), `payout-sandbox-${prefix}-`));

/** The files of a platform plugin as an npm package would hold them (under package/ once packed). */
export function pluginPackage(opts: { name?: string; version?: string; label?: string; configure?: string; index?: string; marker?: string; extra?: Record<string, string> } = {}): Record<string, string> {
  const files: Record<string, string> = {
    'configure.js': opts.configure ?? DEFAULT_CONFIGURE,
    'index.js': opts.index ?? (opts.label ? PLAIN_INDEX.replace("name: 'Card'", `name: ${JSON.stringify(opts.label)}`) : PLAIN_INDEX),
    'package.json': JSON.stringify({
      name: opts.name ?? '@acme/payout-fixture', version: opts.version ?? '1.0.0', main: 'index.js',
      scripts: opts.marker ? {
        preinstall: 'node scripts/install-hook.js preinstall',
        postinstall: 'node scripts/install-hook.js postinstall',
        test: 'echo not a lifecycle script',
      } : {},
      dependencies: opts.marker ? { 'left-pad': '^1.3.0' } : {},
    }, null, 2),
    ...opts.extra,
  };
  if (opts.marker) {
    // What npm would run on the server: it would leave a marker file behind. It must never exist.
    files['scripts/install-hook.js'] = `require('fs').writeFileSync(${JSON.stringify(opts.marker)}, 'install script ran: ' + process.argv[2]);\n`;
  }
  return files;
}

export function packTgz(files: Record<string, string>, prefix = 'package/'): Buffer {
  const names = Object.keys(files).sort();
  return tgz(names.map((n) => ({ name: `${prefix}${n}`, data: files[n] })));
}

export function writeFolder(dir: string, files: Record<string, string>): string {
  fs.rmSync(dir, { recursive: true, force: true });
  for (const [name, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), content);
  }
  return dir;
}

export const sri = (data: Buffer): string => `sha512-${crypto.createHash('sha512').update(data).digest('base64')}`;

export interface FakeRegistry {
  url: string;
  requests: { url: string; authorization: string | undefined }[];
  /** Publishes a version (and moves the dist-tag). `integrity` overrides the true one. */
  publish(name: string, version: string, tarball: Buffer, opts?: { tag?: string; integrity?: string; tarballBase?: string }): void;
  tarballPath(name: string, version: string): string;
  serveTarball(pathname: string, data: Buffer): void;
  /** Answers GET pathname with a 302 to location. */
  redirect(pathname: string, location: string): void;
  close(): Promise<void>;
}

/** An npm registry on 127.0.0.1 port 0: GET /<name> (scoped as @scope%2fname) and GET /tarballs/…; every route needs the token when one is set. */
export async function startFakeRegistry(opts: { token?: string } = {}): Promise<FakeRegistry> {
  const docs = new Map<string, { name: string; 'dist-tags': Record<string, string>; versions: Record<string, unknown> }>();
  const tarballs = new Map<string, Buffer>();
  const redirects = new Map<string, string>();
  const requests: FakeRegistry['requests'] = [];
  const server = http.createServer((req, res) => {
    requests.push({ url: req.url ?? '', authorization: req.headers.authorization });
    if (opts.token && req.headers.authorization !== `Bearer ${opts.token}`) {
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"authentication required"}');
      return;
    }
    const pathname = decodeURIComponent((req.url ?? '/').split('?')[0]);
    const moved = redirects.get(pathname);
    if (moved) { res.writeHead(302, { location: moved }).end(); return; }
    const tarball = tarballs.get(pathname);
    if (tarball) { res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(tarball); return; }
    const doc = docs.get(pathname.slice(1));
    if (doc) { res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(doc)); return; }
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"Not found"}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const tarballPath = (name: string, version: string) => `/tarballs/${name.replace('/', '-')}-${version}.tgz`;
  return {
    url, requests, tarballPath,
    publish(name, version, data, o = {}) {
      const doc = docs.get(name) ?? { name, 'dist-tags': {}, versions: {} };
      const p = tarballPath(name, version);
      tarballs.set(p, data);
      doc.versions[version] = {
        name, version, scripts: {}, dist: { tarball: `${o.tarballBase ?? url}${p}`, integrity: o.integrity ?? sri(data), shasum: crypto.createHash('sha1').update(data).digest('hex') },
      };
      doc['dist-tags'][o.tag ?? 'latest'] = version;
      docs.set(name, doc);
    },
    serveTarball(pathname, data) { tarballs.set(pathname, data); },
    redirect(pathname, location) { redirects.set(pathname, location); },
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
