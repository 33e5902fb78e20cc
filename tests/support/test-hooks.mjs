// Test hooks for the web host, served by the test server, never by the product.
//
// The end-to-end tests drive the real engine of a real page: they move its clock, ask for
// access tokens, read its redacted debug state. The product pages expose nothing for that
// (no URL switch, nothing on `window`). Instead the test server answers the engine module
// `/pkg/sidebar_auth.js` with a small wrapper that re-exports the real module (served as
// `/pkg/sidebar_auth.real.js`) and records each engine the page creates, with its host
// driver, on `window.__sidebarAuth`. The demo and a real deployment serve pkg/ unchanged.
//
//   startStaticServer({ files: { ...testHookFiles() } })   (startEnvironment({ testHooks: true }))

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../web/static-server.mjs';

const WRAPPER = `// TEST SERVER ONLY (tests/support/test-hooks.mjs): the real engine, recorded on window.
import init, * as engine from '/pkg/sidebar_auth.real.js';
export * from '/pkg/sidebar_auth.real.js';
export default init;
export const SidebarAuth = new Proxy(engine.SidebarAuth, {
  get(target, prop, receiver) {
    if (prop !== 'create') return Reflect.get(target, prop, receiver);
    return async (config, driver) => {
      const auth = await target.create(config, driver);
      globalThis.__sidebarAuth = { auth, driver, tick: () => auth.tick(), engine: 'real' };
      return auth;
    };
  },
});
`;

/** The files map that puts the hook in front of the engine module. */
export function testHookFiles() {
  return {
    '/pkg/sidebar_auth.js': WRAPPER,
    '/pkg/sidebar_auth.real.js': () => readFileSync(path.join(REPO_ROOT, 'pkg', 'sidebar_auth.js'), 'utf8'),
  };
}
