// The engine ↔ host contract, checked: values the engine really produced (written by
// `cargo test`, tests/engine_flows.rs `contract_values_for_the_hosts`, into target/contract/)
// are type-checked with `tsc --noEmit` against the declarations generated from the Rust
// types (pkg/sidebar_auth.d.ts, tsify). A field renamed, a wire name changed, `null` where
// the declaration says absent: any drift between Rust and TypeScript fails here.
//
//   node --test tests/contract/      (after `cargo test` and build-engine.sh)

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { access, mkdtemp, mkdir, readFile, writeFile, copyFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const VALUES = path.join(ROOT, 'target', 'contract', 'values.ts');
const DTS = path.join(ROOT, 'pkg', 'sidebar_auth.d.ts');
const TSC = path.join(ROOT, 'node_modules', '.bin', 'tsc');

/** tsc --noEmit --strict on `file`; returns its exit status and output. */
function typecheck(file, extra = []) {
  const r = spawnSync(
    TSC,
    ['--noEmit', '--strict', '--target', 'es2022', '--lib', 'es2022,dom,esnext.disposable', '--module', 'esnext', '--moduleResolution', 'bundler', ...extra, file],
    { encoding: 'utf8' },
  );
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

/** A copy of the values and the declarations in a scratch tree, with `edit` applied to the values. */
async function scratch(t, edit) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sa-contract-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await mkdir(path.join(dir, 'target', 'contract'), { recursive: true });
  await mkdir(path.join(dir, 'pkg'));
  await copyFile(DTS, path.join(dir, 'pkg', 'sidebar_auth.d.ts'));
  const file = path.join(dir, 'target', 'contract', 'values.ts');
  await writeFile(file, edit(await readFile(VALUES, 'utf8')));
  return file;
}

describe('the generated TypeScript declarations describe what the engine produces', () => {
  it('values from the engine type-check against pkg/sidebar_auth.d.ts', async () => {
    await access(VALUES).catch(() => assert.fail('target/contract/values.ts is missing: run cargo test first'));
    await access(DTS).catch(() => assert.fail('pkg/sidebar_auth.d.ts is missing: run bash build-engine.sh first'));
    const { status, output } = typecheck(VALUES);
    assert.equal(status, 0, output);
  });

  it('the check fails on a drift: a wire name the declarations do not know, a field missing', async (t) => {
    const file = await scratch(t, (text) =>
      text.replace('"status": "connected"', '"status": "online"').replace(/\n\s*"canRetry": (true|false),/, '\n'),
    );
    // One tsc run for both drifts (tsc is slow on two cores); the declarations themselves
    // are checked by the test above.
    const { status, output } = typecheck(file, ['--skipLibCheck']);
    assert.notEqual(status, 0, 'tsc must refuse values the Rust types do not describe');
    assert.match(output, /"online"/);
    assert.match(output, /canRetry/);
  });
});
