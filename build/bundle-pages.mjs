// Bundles each page's start modules into one file in pkg/ (esbuild, a devDependency):
//
//   www/app.js                    → pkg/dashboard-page.js   (www/index.html)
//   addin-manifest/taskpane.js    → pkg/taskpane-page.js    (addin-manifest/taskpane.html)
//
//   node build/bundle-pages.mjs            (build-engine.sh runs it; writes pkg/)
//   import { bundlePages } from ...        (the cold-start benchmark bundles a git revision)
//
// Why: a page that loads its modules one by one waits for each import before it sees the
// next (app.js, then dashboard.js and host-web.js, then wake-timer.js); modulepreload hints
// fetch them at once but each module is still compiled and linked apart. One file per page
// measured 1.98 → 1.71 × msal-browser in a page and 2.32 → 1.92 × in the task pane
// (tests/bench/cold-start.mjs, 10 loads each, 2026-12-01; issue 12, "one bundled module
// for ... each page").
//
// The engine stays out of the bundle: the pages still load pkg/sidebar_auth.js by its
// computed URL (www/app.js loadEngineModule), so a missing engine is reported as such, and
// the test server can still answer that one URL with its hook (tests/support/test-hooks.mjs).
//
// The bundles sit in pkg/, not beside their pages, but the modules resolve URLs against
// their own `import.meta.url` (../pkg/sidebar_auth.js, config.json, addin-settings.json,
// dialog-start.html). So `import.meta.url` inside a bundle is replaced by the URL the entry
// module would have had (resolved from the bundle's own URL), and every such URL comes out
// as it did unbundled. That holds because www/ and addin-manifest/ are siblings at the
// same depth: an entry's relative URLs into the other directory are the same from both.

import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Each page's entry module and the bundle that replaces it in the page. */
export const PAGE_BUNDLES = [
  { entry: 'www/app.js', bundle: 'pkg/dashboard-page.js', page: 'www/index.html' },
  { entry: 'addin-manifest/taskpane.js', bundle: 'pkg/taskpane-page.js', page: 'addin-manifest/taskpane.html' },
];

/**
 * The bundles' text for the sources under `root` (the checkout, or a revision's copy).
 * @returns {Promise<Array<{bundle: string, text: string, map: string}>>}
 */
export async function bundlePages(root = REPO_ROOT) {
  const out = [];
  for (const { entry, bundle } of PAGE_BUNDLES) {
    // The entry's URL relative to the bundle: ../www/app.js from pkg/dashboard-page.js.
    const entryFromBundle = path.posix.relative(path.posix.dirname(bundle), entry);
    const r = await esbuild.build({
      absWorkingDir: root,
      entryPoints: [entry],
      outfile: bundle,
      bundle: true,
      minify: true,
      format: 'esm',
      target: 'es2022',
      platform: 'browser',
      sourcemap: 'linked',
      sourcesContent: false,
      legalComments: 'none',
      logLevel: 'error',
      write: false,
      define: { 'import.meta.url': '__sidebarAuthEntryUrl' },
      banner: { js: `const __sidebarAuthEntryUrl=new URL(${JSON.stringify(entryFromBundle)},import.meta.url).href;` },
    });
    const text = r.outputFiles.find((f) => f.path.endsWith('.js')).text;
    const map = r.outputFiles.find((f) => f.path.endsWith('.map')).text;
    if (!text.includes("import(") || !/sidebar_auth\.js/.test(text)) {
      // The engine must stay a computed import of ../pkg/sidebar_auth.js (see above).
      throw new Error(`${bundle}: the engine is no longer imported apart (www/app.js loadEngineModule)`);
    }
    out.push({ bundle, text, map });
  }
  return out;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await mkdir(path.join(REPO_ROOT, 'pkg'), { recursive: true });
  for (const { bundle, text, map } of await bundlePages()) {
    await writeFile(path.join(REPO_ROOT, bundle), text);
    await writeFile(path.join(REPO_ROOT, `${bundle}.map`), map);
    console.log(`[bundle-pages] ${bundle} (${(text.length / 1024).toFixed(1)} KB)`);
  }
}
