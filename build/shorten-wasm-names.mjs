// Renames the WebAssembly module's imports and exports to short names, in the .wasm, in its
// JS glue and in the glue's declarations together (build-engine.sh runs it last).
//
//   node build/shorten-wasm-names.mjs pkg/sidebar_auth_bg.wasm pkg/sidebar_auth.js
//
// Why: wasm-bindgen names each import `__wbg_<name>_<16 hex digits>` (117 of them here), and
// the hashes are written twice (the .wasm's import section and the glue's import object) and
// do not compress: about 2 KiB of the brotli budget (issue 12). The exports
// (`sidebarauth_connect`, `__wbindgen_export3`, ...) are written twice too, and only the glue
// reads them (`wasm.<name>(...)`): 0.25 KiB brotli (issue 12, measured 2026-12-01). binaryen's
// --minify-imports-and-exports would rename them too, but then prints a map the glue must be
// rewritten from anyway, and its --minify-imports only renames Emscripten's `env` imports;
// hence this small rewrite of the import and export sections (WebAssembly Core
// Specification 2.0, §5.5.5 "Import Section", §5.5.10 "Export Section"; names are §5.2.4
// vectors of UTF-8 bytes, lengths LEB128, §5.2.2). The glue's own API (`SidebarAuth`,
// `init`) keeps its names; `memory` keeps its name (a host may read it).
import fs from 'node:fs';

const [wasmPath, gluePath] = process.argv.slice(2);
if (!wasmPath || !gluePath) throw new Error('usage: shorten-wasm-names.mjs MODULE.wasm GLUE.js');
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

/** A name (§5.2.4) at `at`: its text and where it ends. */
function readName(at) {
  let length;
  [length, at] = readU32(wasm, at);
  return [wasm.toString('utf8', at, at + length), at + length];
}

const renamed = new Map(); // imports: wasm-bindgen's `__wbg_<name>_<hash>` → short
const renamedExports = new Map();

/**
 * A section that is a vector of entries (§5.5.5, §5.5.10), rewritten entry by entry:
 * `entry(at)` reads one at `at` and returns its new bytes and where it ends.
 */
function vectorSection(what, from, end, entry) {
  let [count, at] = readU32(wasm, from);
  const entries = [u32(count)];
  for (let i = 0; i < count; i++) {
    let bytes;
    [bytes, at] = entry(at);
    entries.push(...bytes);
  }
  if (at !== end) throw new Error(`${what} section: unexpected length`);
  return Buffer.concat(entries);
}

/** The import section (§5.5.5) with the glue's imports renamed (their `__wbg_` prefix). */
const importSection = (from, end) =>
  vectorSection('import', from, end, (at) => {
    let module, field;
    [module, at] = readName(at);
    [field, at] = readName(at);
    // The import's description: copied as it is, whatever its kind.
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
    return [[name(module), name(newField), wasm.subarray(descStart, at)], at];
  });

/** The export section (§5.5.10) with every export but `memory` renamed. */
const exportSection = (from, end) =>
  vectorSection('export', from, end, (at) => {
    let field;
    [field, at] = readName(at);
    const descStart = at;
    at++; // kind
    [, at] = readU32(wasm, at); // index
    let newField = field;
    if (field !== 'memory') {
      newField = shortName(renamedExports.size);
      renamedExports.set(field, newField);
    }
    return [[name(newField), wasm.subarray(descStart, at)], at];
  });

const rewrite = new Map([[2, importSection], [7, exportSection]]);
const sections = [wasm.subarray(0, 8)];
let at = 8;
while (at < wasm.length) {
  const start = at;
  const id = wasm[at++];
  let size;
  [size, at] = readU32(wasm, at);
  const end = at + size;
  const section = rewrite.get(id);
  if (section) {
    const body = section(at, end);
    sections.push(Buffer.from([id]), u32(body.length), body);
  } else {
    sections.push(wasm.subarray(start, end));
  }
  at = end;
}

// The glue names each import exactly once as a key of its import object.
for (const [long, short] of renamed) {
  const pattern = new RegExp(`\\b${long}\\b`, 'g');
  const hits = glue.match(pattern)?.length ?? 0;
  if (hits !== 1) throw new Error(`${gluePath}: ${long} appears ${hits} times, expected once`);
  glue = glue.replace(pattern, short);
}
// The glue reads exports only as properties of the instance's exports (`wasm.<name>`); a
// name in quotes would be a use this rewrite does not know, so the build stops. (The same
// words as the glue's own functions, `export function discoveryOrigins`, stay: they are its
// API.)
// The declarations name them in `InitOutput` (sidebar_auth.d.ts) and as constants
// (sidebar_auth_bg.wasm.d.ts); they are renamed there too, so they stay true.
const declarations = [gluePath.replace(/\.js$/, '.d.ts'), wasmPath.replace(/\.wasm$/, '.wasm.d.ts')]
  .filter((file) => fs.existsSync(file))
  .map((file) => [file, fs.readFileSync(file, 'utf8')]);
for (const [long, short] of renamedExports) {
  glue = glue.replace(new RegExp(`\\.${long}\\b`, 'g'), `.${short}`);
  if (new RegExp(`['"\`]${long}['"\`]`).test(glue)) throw new Error(`${gluePath}: the export ${long} is named in quotes, not only read as wasm.${long}`);
  for (const entry of declarations) {
    entry[1] = entry[1].replace(new RegExp(`^(\\s*(?:readonly|export const) )${long}:`, 'gm'), `$1${short}:`);
  }
}
fs.writeFileSync(wasmPath, Buffer.concat(sections));
fs.writeFileSync(gluePath, glue);
for (const [file, text] of declarations) fs.writeFileSync(file, text);
console.log(`[shorten-wasm-names] ${renamed.size} imports and ${renamedExports.size} exports renamed`);
