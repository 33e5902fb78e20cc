// Builds the peers of the benchmarks the way an application would ship them: one esbuild
// bundle per entry (the library and the application code), minified, ES modules.
//
//   buildPeerExtensions(dir)   one tiny MV3 extension per peer for the wake benchmark
//                              (tests/bench/wake.mjs), each with a key of its own
//   buildColdStartBundles(dir) one page bundle per peer for the cold-start benchmark
//                              (tests/bench/cold-start.mjs)
//   PEERS                      the peers, with their versions from node_modules
import { generateKeyPairSync } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants } from 'node:zlib';
import * as esbuild from 'esbuild';

import { REPO_ROOT, extensionIdFromKey } from '../../support/build-extension.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));

/** The peers, by the name of their npm package. */
export const PEERS = ['@azure/msal-browser', 'oauth4webapi', 'oidc-client-ts'];
const slug = (peer) => peer.replace(/^@azure\//, '');

export async function peerVersion(peer) {
  const pkg = JSON.parse(await readFile(path.join(REPO_ROOT, 'node_modules', peer, 'package.json'), 'utf8'));
  return pkg.version;
}

/** One minified ES-module bundle of `entry` at `outfile`; returns its size, raw and brotli. */
async function bundle(entry, outfile) {
  await esbuild.build({
    entryPoints: [path.join(HERE, entry)],
    outfile,
    bundle: true,
    minify: true,
    format: 'esm',
    target: 'es2022',
    platform: 'browser',
    legalComments: 'none',
    logLevel: 'error',
  });
  const bytes = await readFile(outfile);
  return { raw: bytes.length, brotli: brotliCompressSync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length };
}

/** @returns {Promise<Array<{peer, version, dir, id, sizes}>>} */
export async function buildPeerExtensions(dir) {
  const out = [];
  for (const peer of PEERS) {
    const name = slug(peer);
    const extDir = path.join(dir, `wake-${name}`);
    await mkdir(extDir, { recursive: true });
    const worker = await bundle(`wake-${name}.worker.js`, path.join(extDir, 'background.js'));
    await bundle(`wake-${name}.page.js`, path.join(extDir, 'page.js'));
    await writeFile(path.join(extDir, 'page.html'), `<!doctype html>\n<meta charset="utf-8">\n<title>${name}</title>\n<script type="module" src="page.js"></script>\n`);
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const key = publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
    const manifest = {
      manifest_version: 3,
      name: `sidebar-auth wake peer ${name} (benchmark only)`,
      version: '0.0.1',
      key,
      background: { service_worker: 'background.js', type: 'module' },
      permissions: ['storage'],
    };
    await writeFile(path.join(extDir, 'manifest.json'), JSON.stringify(manifest, null, 2));
    out.push({ peer, version: await peerVersion(peer), dir: extDir, id: extensionIdFromKey(key), sizes: worker });
  }
  return out;
}

/** @returns {Promise<Array<{peer, version, file, sizes}>>} */
export async function buildColdStartBundles(dir) {
  await mkdir(dir, { recursive: true });
  const out = [];
  for (const peer of PEERS) {
    const name = slug(peer);
    const file = path.join(dir, `cold-${name}.js`);
    out.push({ peer, name, version: await peerVersion(peer), file, sizes: await bundle(`cold-${name}.js`, file) });
  }
  return out;
}
