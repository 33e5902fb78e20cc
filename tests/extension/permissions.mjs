// Granting the extension's optional host permissions in a test, the way a user does:
// chrome.permissions.request from an extension page inside a click.
//
// Chrome asks only within a user gesture (transient activation): `page.evaluate` has none,
// a Playwright click (CDP Input.dispatchMouseEvent, a trusted event) has. So the helper puts
// a button on an extension page whose click handler calls chrome.permissions.request, and
// clicks it. See extension/README.md ("Testing run-time host permissions") for what Chromium
// does with the prompt in headless mode.

import assert from 'node:assert/strict';
import { WAIT_MS } from './helpers.mjs';

export async function grantHostPermissions(page, origins) {
  await page.evaluate((list) => {
    const b = document.createElement('button');
    b.id = 'test-grant';
    b.textContent = 'grant';
    b.onclick = () => {
      window.__granted = chrome.permissions.request({ origins: list }).then(
        (ok) => ({ ok }),
        (err) => ({ ok: false, error: String(err?.message ?? err) }),
      );
    };
    document.body.append(b);
  }, origins);
  await page.click('#test-grant');
  const result = await page.evaluate(() => window.__granted);
  await page.evaluate(() => document.getElementById('test-grant')?.remove());
  assert.deepEqual(result, { ok: true }, `chrome.permissions.request(${origins.join(', ')})`);
  assert.equal(await page.evaluate((list) => chrome.permissions.contains({ origins: list }), origins), true);
  return WAIT_MS;
}
