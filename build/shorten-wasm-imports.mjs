// Renames the WebAssembly module's imports from its JS glue to short names, in the .wasm and
// in the glue together (build-engine.sh runs it last).
//
//   node build/shorten-wasm-imports.mjs pkg/sidebar_auth_bg.wasm pkg/sidebar_auth.js
//
// Why: wasm-bindgen names each import `__wbg_<name>_<16 hex digits>` (117 of them here), and
// the hashes are written twice (the .wasm's import section and the glue's import object) and
// do not compress: about 2 KiB of the brotli budget (issue 12). binaryen's --minify-imports
// only renames Emscripten's `env` imports, hence this small rewrite of the import section
// (WebAssembly Core Specification 2.0, §5.5.5 "Import Section"; names are §5.2.4 vectors of
// UTF-8 bytes, lengths LEB128, §5.2.2). Exports keep their names: the glue's API uses them.
import fs from 'node:fs';

const [wasmPath, gluePath] = process.argv.slice(2);
if (!wasmPath || !gluePath) throw new Error('usage: shorten-wasm-imports.mjs MODULE.wasm GLUE.js');
const wasm = fs.readFileSync(wasmPath);
let glue = fs.readFileSync(gluePath, 'utf8');

function readU32(bytes, at) {
  let value = 0, shift = 0, byte;
  do {
    byte = bytes[at++];
    value += (byte & 0x7f) * 2 ** shift;
    shift += 7;
  } while (byte & 0x80);
  return [value, at];
}
function u32(value) {
  const out = [];
  do {
    let byte = value & 0x7f;
    value = Math.floor(value / 128);
    if (value) byte |= 0x80;
    out.push(byte);
  } while (value);
  return Buffer.from(out);
}
function name(text) {
  const bytes = Buffer.from(text, 'utf8');
  return Buffer.concat([u32(bytes.length), bytes]);
}
/** Short names: a..z, A..Z, then two letters; none is a JS keyword of one or two letters. */
function shortName(i) {
  const letters = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
  let s = '';
  do {
    s = letters[i % letters.length] + s;
    i = Math.floor(i / letters.length) - 1;
  } while (i >= 0);
  return s === 'do' || s === 'if' || s === 'in' ? '_' + s : s;
}

/** The glue module: the one whose import names carry wasm-bindgen's `__wbg_` prefix. */
const renamed = new Map();
const sections = [wasm.subarray(0, 8)];
let at = 8;
while (at < wasm.length) {
  const start = at;
  const id = wasm[at++];
  let size;
  [size, at] = readU32(wasm, at);
  const end = at + size;
  if (id !== 2) {
    sections.push(wasm.subarray(start, end));
    at = end;
    continue;
  }
  let count;
  [count, at] = readU32(wasm, at);
  const entries = [u32(count)];
  for (let i = 0; i < count; i++) {
    let length;
    [length, at] = readU32(wasm, at);
    const module = wasm.toString('utf8', at, at + length);
    at += length;
    [length, at] = readU32(wasm, at);
    const field = wasm.toString('utf8', at, at + length);
    at += length;
    // The import's description (§5.5.5): copied as it is, whatever its kind.
    const descStart = at;
    const kind = wasm[at++];
    if (kind === 0x00) [, at] = readU32(wasm, at); // function: type index
    else if (kind === 0x01 || kind === 0x02) {
      if (kind === 0x01) at++; // table: reference type
      const flags = wasm[at++];
      [, at] = readU32(wasm, at);
      if (flags & 1) [, at] = readU32(wasm, at);
    } else if (kind === 0x03) at += 2; // global: value type, mutability
    else if (kind === 0x04) { at++; [, at] = readU32(wasm, at); } // tag
    else throw new Error(`import ${module}.${field}: unknown kind ${kind}`);
    let newField = field;
    if (/^__wbg_\w+$/.test(field)) {
      if (!renamed.has(field)) renamed.set(field, shortName(renamed.size));
      newField = renamed.get(field);
    }
    entries.push(name(module), name(newField), wasm.subarray(descStart, at));
  }
  if (at !== end) throw new Error('import section: unexpected length');
  const body = Buffer.concat(entries);
  sections.push(Buffer.from([2]), u32(body.length), body);
}

// The glue names each import exactly once as a key of its import object.
for (const [long, short] of renamed) {
  const pattern = new RegExp(`\\b${long}\\b`, 'g');
  const hits = glue.match(pattern)?.length ?? 0;
  if (hits !== 1) throw new Error(`${gluePath}: ${long} appears ${hits} times, expected once`);
  glue = glue.replace(pattern, short);
}
fs.writeFileSync(wasmPath, Buffer.concat(sections));
fs.writeFileSync(gluePath, glue);
console.log(`[shorten-wasm-imports] ${renamed.size} imports renamed`);
