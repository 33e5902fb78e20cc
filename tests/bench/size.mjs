// Size benchmark: the release .wasm and its JS glue, raw, gzip (-9) and brotli (q11), as
// shipped in pkg/ by `wasm-pack build --target web --release`. Prints numbers; the budget
// is in the issue, not in a test that could fail on it.
import fs from 'node:fs';
import zlib from 'node:zlib';

const files = ['pkg/sidebar_auth_bg.wasm', 'pkg/sidebar_auth.js'];
const kb = (n) => (n / 1024).toFixed(1).padStart(7) + ' KB';
let total = { raw: 0, gzip: 0, brotli: 0 };
console.log('file'.padEnd(28) + 'raw'.padStart(10) + 'gzip'.padStart(10) + 'brotli'.padStart(10));
for (const file of files) {
  const bytes = fs.readFileSync(file);
  const sizes = {
    raw: bytes.length,
    gzip: zlib.gzipSync(bytes, { level: 9 }).length,
    brotli: zlib.brotliCompressSync(bytes, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11 } }).length,
  };
  for (const k of Object.keys(total)) total[k] += sizes[k];
  console.log(file.padEnd(28) + kb(sizes.raw) + kb(sizes.gzip) + kb(sizes.brotli));
}
console.log('total'.padEnd(28) + kb(total.raw) + kb(total.gzip) + kb(total.brotli));
const build = 'target/engine-build.txt';
if (fs.existsSync(build)) console.log('built with: ' + fs.readFileSync(build, 'utf8').trim());
