// A tiny static file server for the web host and its tests.
//
//   import { startStaticServer } from './static-server.mjs';
//   const { url, close } = await startStaticServer({ root, port: 0 });
//
//   node tests/web/static-server.mjs --port 8080 [--root <dir>] [--host 127.0.0.1]
//
// Serves files below `root` (default: the repository root) on 127.0.0.1 only, with the
// MIME types the pages need (`application/wasm` for the engine, `text/javascript` for
// `.js`/`.mjs`). No directory listings; `/dir/` serves `/dir/index.html`. Nothing is cached
// (`Cache-Control: no-store`), so a rebuilt `pkg/` is picked up on reload.
//
// `files` maps URL paths to in-memory content (a string, or a function returning one; null
// means 404), served before the disk: the end-to-end tests publish each environment's
// engine configuration at /www/config.json this way, without sharing a file on disk.

import { createServer } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(HERE, '..', '..');

/** What is served from the repository root: the web host, the Outlook add-in and the built engine. */
export const PUBLIC_PREFIXES = ['/www/', '/pkg/', '/addin-manifest/'];

export const MIME_TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.htm': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.cjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.ts': 'text/plain; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.md': 'text/markdown; charset=utf-8',
  '.xml': 'application/xml; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.ico': 'image/x-icon',
  '.webp': 'image/webp',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
};

export function mimeTypeFor(filePath) {
  return MIME_TYPES[path.extname(filePath).toLowerCase()] ?? 'application/octet-stream';
}

/**
 * Start serving `root` on 127.0.0.1.
 * @param {{root?: string, port?: number, host?: string, tls?: {key: string, cert: string},
 *          files?: Record<string, string | null | (() => string | null)>}} [options]
 *   `tls`: serve https (the Outlook add-in must be; tests/idp/tls.mjs makes a certificate).
 * @returns {Promise<{url: string, port: number, close: () => Promise<void>}>}
 *   `url` is the origin without a trailing slash, e.g. `http://127.0.0.1:43121`.
 */
export async function startStaticServer({ root = REPO_ROOT, port = 0, host = '127.0.0.1', files = {}, tls = null } = {}) {
  const absRoot = path.resolve(root);
  const onRequest = (req, res) => {
    handle(absRoot, req, res, files).catch((err) => {
      if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', `internal error: ${err.message}\n`);
      else res.destroy();
    });
  };
  const server = tls ? createTlsServer({ key: tls.key, cert: tls.cert }, onRequest) : createServer(onRequest);
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const actualPort = server.address().port;
  const sockets = new Set();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  return {
    url: `${tls ? 'https' : 'http'}://${host}:${actualPort}`,
    port: actualPort,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}

function send(res, status, type, body, extra = {}) {
  res.writeHead(status, {
    'Content-Type': type,
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    ...extra,
  });
  res.end(body);
}

async function handle(root, req, res, files = {}) {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n', { Allow: 'GET, HEAD' });
    return;
  }
  let pathname;
  try {
    pathname = decodeURIComponent(new URL(req.url, 'http://localhost').pathname);
  } catch {
    send(res, 400, 'text/plain; charset=utf-8', 'bad request\n');
    return;
  }
  if (pathname.includes('\0')) {
    send(res, 400, 'text/plain; charset=utf-8', 'bad request\n');
    return;
  }
  if (Object.hasOwn(files, pathname)) {
    const entry = files[pathname];
    const body = typeof entry === 'function' ? entry() : entry;
    if (body === null || body === undefined) {
      send(res, 404, 'text/plain; charset=utf-8', `not found: ${pathname}\n`);
    } else if (req.method === 'HEAD') {
      res.writeHead(200, { 'Content-Type': mimeTypeFor(pathname), 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' });
      res.end();
    } else {
      send(res, 200, mimeTypeFor(pathname), body);
    }
    return;
  }
  // From the repository root only the web host's own folders are served: never .git,
  // target/, node_modules/ or the tests (the demo listens on loopback, but a page it serves
  // should not be able to read the rest of a developer's checkout).
  if (root === REPO_ROOT && !PUBLIC_PREFIXES.some((prefix) => pathname.startsWith(prefix))) {
    if (pathname === '/') {
      res.writeHead(302, { Location: '/www/index.html', 'Cache-Control': 'no-store' });
      res.end();
      return;
    }
    send(res, 404, 'text/plain; charset=utf-8', `not found: ${pathname}\n`);
    return;
  }
  let filePath = path.resolve(root, '.' + pathname);
  // Never serve anything outside the root (`..`, absolute paths, symlink-free check).
  if (filePath !== root && !filePath.startsWith(root + path.sep)) {
    send(res, 403, 'text/plain; charset=utf-8', 'forbidden\n');
    return;
  }
  let info = await stat(filePath).catch(() => null);
  if (info?.isDirectory()) {
    if (!pathname.endsWith('/')) {
      res.writeHead(301, { Location: pathname + '/', 'Cache-Control': 'no-store' });
      res.end();
      return;
    }
    filePath = path.join(filePath, 'index.html');
    info = await stat(filePath).catch(() => null);
  }
  if (!info?.isFile()) {
    send(res, 404, 'text/plain; charset=utf-8', `not found: ${pathname}\n`);
    return;
  }
  res.writeHead(200, {
    'Content-Type': mimeTypeFor(filePath),
    'Content-Length': info.size,
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
  });
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  createReadStream(filePath).on('error', () => res.destroy()).pipe(res);
}

function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const [key, inline] = a.startsWith('--') ? a.slice(2).split('=', 2) : [null, null];
    if (!key) continue;
    out[key] = inline ?? argv[++i];
  }
  return out;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const args = parseArgs(process.argv.slice(2));
  const port = args.port === undefined ? 8080 : Number(args.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`invalid --port ${args.port}`);
    process.exit(2);
  }
  const { url, close } = await startStaticServer({
    root: args.root ? path.resolve(args.root) : REPO_ROOT,
    port,
    host: args.host ?? '127.0.0.1',
  });
  console.log(`serving ${args.root ? path.resolve(args.root) : REPO_ROOT} at ${url}/ (dashboard: ${url}/www/index.html)`);
  const stop = () => close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
