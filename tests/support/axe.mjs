// Accessibility checks the browser suites share (issue 14, WCAG 2.2 AA):
//
//   await axeViolations(page)          axe-core's WCAG 2.x A/AA rules on the page: [] when clean
//   formatViolations(list)             readable text for an assertion message
//   await inputBorderContrast(page)    text fields whose border is under 3:1 (1.4.11, which axe
//                                      does not check)
//   await tabWalk(page)                every stop of a Tab walk: where it is, what covers it
//   orderProblems(stops)               consecutive stops that go back up the page
//
// axe-core is injected by the test, through the DevTools protocol (page.evaluate), which a
// page's Content-Security-Policy does not apply to: the product pages keep their strict CSP
// (script-src 'self'), which blocks an inline <script> such as page.addScriptTag's.

import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const AXE_PATH = require.resolve('axe-core/axe.min.js');
let axeSource = null;

/** The WCAG 2.0, 2.1 and 2.2 level A and AA rules (the issue's tags). */
export const WCAG_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'];

/**
 * Rules of those criteria that axe ships disabled (tagged `experimental`), switched on here:
 * label-content-name-mismatch is WCAG 2.5.3 Label in Name ("Try again" named "Try
 * Salesforce again now").
 */
export const EXTRA_RULES = ['label-content-name-mismatch'];

async function injectAxe(page) {
  axeSource ??= await readFile(AXE_PATH, 'utf8');
  const present = await page.evaluate(() => typeof window.axe === 'object').catch(() => false);
  if (!present) await page.evaluate(axeSource);
}

/**
 * Run axe on the whole document of `page` with the WCAG A/AA tags. Returns the violations,
 * each {id, impact, help, tags, nodes: [{target, html, summary}]}, and the ids of the rules
 * that ran (so a test can see a rule was not skipped).
 */
export async function axeRun(page) {
  await injectAxe(page);
  return page.evaluate(
    async ([tags, extra]) => {
      const rules = Object.fromEntries(extra.map((id) => [id, { enabled: true }]));
      const r = await window.axe.run(document, { runOnly: { type: 'tag', values: tags }, rules, resultTypes: ['violations'] });
      return {
        violations: r.violations.map((v) => ({
          id: v.id,
          impact: v.impact,
          help: v.help,
          tags: v.tags.filter((t) => t.startsWith('wcag')),
          nodes: v.nodes.map((n) => ({ target: n.target.join(' '), html: n.html.slice(0, 160), summary: n.failureSummary })),
        })),
        ran: [...r.violations, ...r.passes, ...r.incomplete, ...r.inapplicable].map((x) => x.id),
      };
    },
    [WCAG_TAGS, EXTRA_RULES],
  );
}

export async function axeViolations(page) {
  return (await axeRun(page)).violations;
}

export function formatViolations(list) {
  return list
    .map((v) => `${v.id} (${v.impact}; ${v.tags.join(', ')}): ${v.help}\n${v.nodes.map((n) => `    ${n.target}  ${n.html}\n      ${n.summary?.replace(/\n/g, '\n      ')}`).join('\n')}`)
    .join('\n');
}

/**
 * WCAG 1.4.11 Non-text Contrast for text fields and selects: the border is what shows where
 * to type, so it needs 3:1 against the field's own background and against what surrounds
 * the field. Returns the fields that fail, with the ratios found.
 */
export function inputBorderContrast(page) {
  return page.evaluate(() => {
    const parse = (c) => {
      const m = /rgba?\(([^)]+)\)/.exec(c);
      if (!m) return null;
      const [r, g, b, a = 1] = m[1].split(/[ ,/]+/).filter(Boolean).map(Number);
      return { r, g, b, a };
    };
    const lum = ({ r, g, b }) => {
      const f = (v) => {
        v /= 255;
        return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
      };
      return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
    };
    const ratio = (x, y) => {
      const [a, b] = [lum(x), lum(y)].sort((p, q) => q - p);
      return (a + 0.05) / (b + 0.05);
    };
    // The first opaque background at or above `el` (the page's white otherwise).
    const backgroundOf = (el) => {
      for (let e = el; e; e = e.parentElement) {
        const c = parse(getComputedStyle(e).backgroundColor);
        if (c && c.a >= 1) return c;
      }
      return { r: 255, g: 255, b: 255, a: 1 };
    };
    const fields = document.querySelectorAll(
      'input:not([type=radio]):not([type=checkbox]):not([type=hidden]):not([type=button]):not([type=submit]), select, textarea',
    );
    const failures = [];
    let checked = 0;
    for (const el of fields) {
      const r = el.getBoundingClientRect();
      if (!r.width || !r.height) continue;
      checked++;
      const style = getComputedStyle(el);
      const border = parse(style.borderTopColor);
      const inside = backgroundOf(el);
      const outside = backgroundOf(el.parentElement);
      const ratios = [ratio(border, inside), ratio(border, outside)];
      if (Math.min(...ratios) < 3) {
        failures.push({
          field: el.id || el.getAttribute('data-testid') || el.outerHTML.slice(0, 80),
          border: style.borderTopColor,
          ratios: ratios.map((x) => Math.round(x * 100) / 100),
        });
      }
    }
    return { checked, failures };
  });
}

/**
 * Walk the page with the Tab key from the top until focus comes back round (or `max`
 * stops), and record each stop: what it is, where it is on the page (document
 * coordinates), whether it sits in a fixed box, and whether anything covers it
 * (document.elementFromPoint at its centre and four points around it, WCAG 2.4.11: the
 * stop must be what is found there, or contain it).
 */
export async function tabWalk(page, { max = 80 } = {}) {
  await page.evaluate(() => {
    document.activeElement?.blur();
    window.scrollTo(0, 0);
  });
  // Start from the document (a click on nothing focusable would do the same).
  await page.evaluate(() => {
    const start = document.createElement('span');
    start.tabIndex = -1;
    start.id = '__tab-walk-start';
    document.body.prepend(start);
    start.focus();
    start.remove();
  });
  const stops = [];
  const seen = new Set();
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    const stop = await page.evaluate(() => {
      const el = document.activeElement;
      if (!el || el === document.body || el === document.documentElement) return null;
      const tag = el.tagName.toLowerCase();
      const label = el.getAttribute('aria-label');
      const key = el.getAttribute('data-testid') || el.id || (label ? `${tag}:"${label}"` : `${tag}:${(el.textContent || '').trim().slice(0, 40)}`);
      const r = el.getBoundingClientRect();
      let fixed = false;
      for (let e = el; e; e = e.parentElement) if (getComputedStyle(e).position === 'fixed') fixed = true;
      // The centre, and four points a quarter in from the corners (the very corners of a
      // rounded button are its parent's).
      const at = (fx, fy) => [r.left + r.width * fx, r.top + r.height * fy];
      const points = [at(0.5, 0.5), at(0.25, 0.25), at(0.75, 0.25), at(0.25, 0.75), at(0.75, 0.75)];
      // An input drawn as a styled label (the mail-service chips: the radio is transparent
      // over its label) is not covered by its own label.
      const ownLabel = el.closest("label");
      const covers = [];
      for (const [x, y] of points) {
        const hit = document.elementFromPoint(x, y);
        if (!hit) {
          covers.push(`(${Math.round(x)},${Math.round(y)}) outside the window`);
        } else if (hit !== el && !el.contains(hit) && !(ownLabel && ownLabel.contains(hit))) {
          covers.push(`(${Math.round(x)},${Math.round(y)}) ${hit.tagName.toLowerCase()}.${[...hit.classList].join('.')}`);
        }
      }
      return {
        key,
        top: r.top + window.scrollY,
        bottom: r.bottom + window.scrollY,
        left: r.left + window.scrollX,
        right: r.right + window.scrollX,
        fixed,
        covers,
      };
    });
    if (!stop) {
      if (stops.length) break; // back at the top: the walk is done
      continue;
    }
    if (seen.has(stop.key)) break; // came round again
    seen.add(stop.key);
    stops.push(stop);
  }
  return stops;
}

/**
 * WCAG 2.4.3 Focus Order in a one-column page: each stop is below the previous one, or on
 * the same line to its right. Stops in a fixed box (the toast) are outside the page's flow
 * and are not compared with it. Returns the offending pairs as text.
 */
export function orderProblems(stops) {
  const flow = stops.filter((s) => !s.fixed);
  const problems = [];
  for (let i = 1; i < flow.length; i++) {
    const a = flow[i - 1];
    const b = flow[i];
    const overlap = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
    const sameLine = overlap > 0.5 * Math.min(a.bottom - a.top, b.bottom - b.top);
    const ok = sameLine ? b.left >= a.left - 1 : b.top >= a.top - 1;
    if (!ok) problems.push(`${a.key} (${Math.round(a.left)},${Math.round(a.top)}) → ${b.key} (${Math.round(b.left)},${Math.round(b.top)})`);
  }
  return problems;
}

/** The stops something covers (2.4.11), as text. */
export function coveredStops(stops) {
  return stops.filter((s) => s.covers.length).map((s) => `${s.key}: ${s.covers.join('; ')}`);
}
