// A browser that blocks third-party cookies (Chromium 156's default) also blocks every
// storage API of a third-party iframe, which the task pane in Outlook on the web is: the task
// pane must say so and what to do, not fail blank or with a storage error code.
// (Its own file: it needs a default Chromium profile; taskpane.test.mjs runs one that allows
// third-party storage.)

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

import { startAddinEnvironment } from './env.mjs';
import { taskpaneFrame, WAIT_MS, byTestId } from './helpers.mjs';
import { CHROMIUM, CHROMIUM_ARGS } from '../support/browser.mjs';

let env;
let browser;
before(async () => {
  env = await startAddinEnvironment({ testHooks: true });
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
});
after(async () => {
  await browser?.close();
  await env?.close();
});

describe('task pane where third-party storage is blocked', () => {
  it('says that the browser blocks it, and how to allow it for the Outlook site', async () => {
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    try {
      const host = await context.newPage();
      await host.goto(env.outlookUrl());
      await byTestId(host, 'open-taskpane').click();
      const frame = await taskpaneFrame(host);
      await frame.waitForSelector('body[data-ready]', { timeout: WAIT_MS });
      assert.equal(await frame.getAttribute('body', 'data-ready'), 'error');
      // The precondition: storage really is blocked in this profile.
      assert.equal(await frame.evaluate(() => {
        try {
          return typeof localStorage.length;
        } catch {
          return 'blocked';
        }
      }), 'blocked');
      const text = await byTestId(frame, 'boot-error').textContent();
      const site = new URL(env.outlookBase).host;
      assert.match(text, new RegExp(`blocks third-party cookies and site data`));
      assert.ok(text.includes(`Allow third-party cookies for ${site}`), text);
    } finally {
      await context.close();
    }
  });
});
