// Size of the shipped module: the release .wasm and its JS glue, raw, gzip (-9) and brotli
// (q11), as build-engine.sh leaves them in pkg/.
//
//   node tests/bench/size.mjs           print the sizes
//   node tests/bench/size.mjs --check   also fail (exit 1) above the budget, which is kept in
//                                       one place: Cargo.toml, size-budget-brotli-kib
//   node tests/bench/size.mjs --check --budget N   the same against N KiB (to see it fail)
import fs from 'node:fs';
import zlib from 'node:zlib';

const args = process.argv.slice(2);
const check = args.includes('--check');
const override = args.indexOf('--budget');
const cargo = fs.readFileSync('Cargo.toml', 'utf8');
const budgetKiB = override >= 0 ? Number(args[override + 1]) : Number(/^size-budget-brotli-kib\s*=\s*(\d+(?:\.\d+)?)\s*$/m.exec(cargo)?.[1]);
if (!Number.isFinite(budgetKiB)) throw new Error('Cargo.toml has no size-budget-brotli-kib');

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
const totalKiB = total.brotli / 1024;
console.log(`budget: ${budgetKiB} KiB brotli; used ${totalKiB.toFixed(1)} KiB (${(budgetKiB - totalKiB).toFixed(1)} KiB left)`);
if (check && totalKiB > budgetKiB) {
  console.error(`FAIL: the shipped module is ${totalKiB.toFixed(1)} KiB brotli, over the budget of ${budgetKiB} KiB (Cargo.toml, size-budget-brotli-kib).`);
  process.exit(1);
}
