// The README's screenshots of the dashboard (docs/screenshots/), taken with headless Chromium
// and the real engine against the local identity providers, reached through the dashboard's
// own buttons and the providers' login pages:
//
//   node tests/support/screenshots.mjs     (the engine must be built: bash build-engine.sh)
//
//   connected.png     Microsoft 365, Gmail and Salesforce connected (760 px wide)
//   attention.png     Microsoft 365 needing attention after a refused refresh (760 px)
//   change-form.png   the CRM section with the Salesforce Change form open on a saved username
//                     (360 px, the side panel's width)

import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { chromium } from 'playwright-core';

import { startEnvironment } from './e2e-env.mjs';
import { CHROMIUM, CHROMIUM_ARGS, WAIT_MS, byTestId, completeSignIn, chooseMailService, showMailService, submitSalesforceChange, waitForCard } from './browser.mjs';
import { REPO_ROOT } from '../web/static-server.mjs';

const OUT = path.join(REPO_ROOT, 'docs', 'screenshots');
const ACCOUNT = { microsoft: 'alice@contoso.com', google: 'alice@gmail.test', salesforce: 'alice@acme.test' };

async function connect(page, service) {
  await showMailService(page, service);
  const popup = page.waitForEvent('popup', { timeout: WAIT_MS });
  await byTestId(page, `change-${service}`).click();
  await chooseMailService(page, service);
  if (service === 'salesforce') await submitSalesforceChange(page, ACCOUNT[service]);
  await completeSignIn(await popup, ACCOUNT[service]);
  await waitForCard(page, service, 'connected', ACCOUNT[service]);
}

/**
 * The page from the top to the end of the dashboard (no empty space below), or only the
 * element `selector`; no focus ring, no hover.
 */
async function shoot(page, name, selector = null) {
  await page.mouse.move(0, 0);
  await page.evaluate(() => {
    document.activeElement?.blur();
    window.scrollTo(0, 0);
  });
  const file = path.join(OUT, name);
  const width = page.viewportSize().width;
  let clip;
  if (selector) {
    // The element with the page's margin around it, across the full width.
    const box = await page.locator(selector).boundingBox();
    clip = { x: 0, y: Math.max(0, Math.floor(box.y - 12)), width, height: Math.ceil(box.height + 24) };
  } else {
    const box = await page.locator('main').boundingBox();
    clip = { x: 0, y: 0, width, height: Math.ceil(box.y + box.height) };
  }
  await page.screenshot({ path: file, fullPage: true, clip });
  console.log(`wrote ${path.relative(REPO_ROOT, file)}`);
}

const env = await startEnvironment({ port: 0 });
const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
try {
  await mkdir(OUT, { recursive: true });
  const context = await browser.newContext({ viewport: { width: 760, height: 900 }, deviceScaleFactor: 1 });
  const page = await context.newPage();
  await page.goto(`${env.baseUrl}/www/index.html`);
  await page.waitForSelector('body[data-ready="true"]', { timeout: WAIT_MS });
  for (const s of ['google', 'salesforce', 'microsoft']) await connect(page, s);
  await shoot(page, 'connected.png');

  await page.setViewportSize({ width: 360, height: 640 });
  await byTestId(page, 'change-salesforce').click();
  await byTestId(page, 'change-form-salesforce').waitFor({ timeout: WAIT_MS });
  await shoot(page, 'change-form.png', '[data-testid="section-crm"]');
  await byTestId(page, 'change-cancel-salesforce').click();

  // A password change at Microsoft: the refresh after a reload is refused (AADSTS50173).
  await page.setViewportSize({ width: 760, height: 900 });
  await env.control('/fail-next', { provider: 'microsoft', endpoint: 'token', kind: 'error', code: '50173' });
  await page.reload();
  await page.waitForSelector('body[data-ready="true"]', { timeout: WAIT_MS });
  await waitForCard(page, 'microsoft', 'needs_attention');
  for (const s of ['google', 'salesforce']) await waitForCard(page, s, 'connected');
  await shoot(page, 'attention.png');
} finally {
  await browser.close();
  await env.close();
}
