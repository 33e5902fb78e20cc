// Offline checks of the add-in's manifests (tests/addin/manifest.test.mjs).
//
// Unified (JSON) manifest: the schema bundled in npm @microsoft/app-manifest, with that
// package's own validator (ajv, draft-04). XML manifest: its XSDs are in no package and
// `office-addin-manifest validate` calls a remote service (/work/shared/toolchain.md), so:
// well-formed per xmllint, then the structure Outlook requires, each rule from
// OfficeDev/office-js-docs-pr:
//   docs/develop/manifest-element-ordering.md          order of OfficeApp (MailApp) and of
//                                                       VersionOverrides 1.0 / 1.1 children
//   docs/develop/specify-office-hosts-and-api-requirements.md   a MailApp has Requirements with Mailbox
//   docs/develop/dialog-api-in-office-add-ins.md       https pages; AppDomains for the dialog's domains
//   docs/develop/create-addin-commands.md              a button on MessageReadCommandSurface (ShowTaskpane)

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';

const require = createRequire(import.meta.url);

export const UNIFIED_SCHEMA_VERSION = 'v1.30';

export function unifiedSchema() {
  const file = require.resolve(`@microsoft/app-manifest/build/json-schemas/teams/${UNIFIED_SCHEMA_VERSION}/MicrosoftTeams.schema.json`);
  // The package's own workaround for a regex in the schema that ajv rejects (its fetchSchema).
  return JSON.parse(readFileSync(file, 'utf8').replace(/\\a/g, '\\x07'));
}

/** Schema errors of a unified manifest ([] when valid). */
export async function checkJsonManifest(manifest) {
  const { ManifestUtil } = require('@microsoft/app-manifest');
  return ManifestUtil.validateManifestAgainstSchema(manifest, unifiedSchema());
}

/** xmllint's complaint about `text`, or null when it is well-formed. */
export function xmllint(text) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'manifest-'));
  try {
    const file = path.join(dir, 'manifest.xml');
    writeFileSync(file, text);
    execFileSync('xmllint', ['--noout', '--nonet', file], { stdio: ['ignore', 'ignore', 'pipe'] });
    return null;
  } catch (err) {
    return String(err.stderr || err.message);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A small element tree of well-formed XML (xmllint has said it is): {name, attrs, children, text}. */
export function parseXml(text) {
  const root = { name: '#root', attrs: {}, children: [], text: '' };
  const stack = [root];
  const re = /<!--[\s\S]*?-->|<\?[\s\S]*?\?>|<(\/?)([\w:.-]+)((?:\s+[\w:.-]+\s*=\s*"[^"]*")*)\s*(\/?)>|([^<]+)/g;
  let m;
  while ((m = re.exec(text))) {
    if (m[5] !== undefined) {
      stack[stack.length - 1].text += m[5];
      continue;
    }
    if (!m[2]) continue;
    if (m[1]) {
      stack.pop();
      continue;
    }
    const attrs = {};
    for (const a of m[3].matchAll(/([\w:.-]+)\s*=\s*"([^"]*)"/g)) attrs[a[1]] = a[2].replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
    const el = { name: m[2], attrs, children: [], text: '' };
    stack[stack.length - 1].children.push(el);
    if (!m[4]) stack.push(el);
  }
  return root.children[0];
}

const local = (name) => name.replace(/^.*:/, '');
const kids = (el, name) => el.children.filter((c) => local(c.name) === name);
const kid = (el, name) => kids(el, name)[0];

/** Are the children of `el` in the documented order? (Each child must be in `order`.) */
function orderProblems(el, order, where) {
  const problems = [];
  let last = -1;
  for (const c of el.children) {
    const i = order.indexOf(local(c.name));
    if (i < 0) problems.push(`${where}: <${c.name}> is not a child it may have`);
    else if (i < last) problems.push(`${where}: <${c.name}> is out of order (manifest-element-ordering.md)`);
    else last = i;
  }
  return problems;
}

const MAIL_APP_ORDER = ['Id', 'AlternateId', 'Version', 'ProviderName', 'DefaultLocale', 'DisplayName', 'Description', 'IconUrl', 'HighResolutionIconUrl', 'SupportUrl', 'AppDomains', 'Hosts', 'Requirements', 'FormSettings', 'Permissions', 'Rule', 'DisableEntityHighlighting', 'VersionOverrides'];
const VERSION_OVERRIDES_ORDER = ['Description', 'Requirements', 'Hosts', 'Resources', 'VersionOverrides'];
const VERSION_OVERRIDES_1_1_ORDER = ['Description', 'Requirements', 'Hosts', 'Resources', 'EquivalentAddins'];

/**
 * Structure problems of the XML manifest ([] when it has what Outlook requires).
 * @param {string} text
 * @param {{baseUrl: string, appDomains: string[], sets: {name, minVersion}[]}} expected
 */
export function checkXmlManifest(text, expected) {
  const lint = xmllint(text);
  if (lint) return [`not well-formed XML: ${lint.trim()}`];
  const problems = [];
  const app = parseXml(text);
  if (local(app.name) !== 'OfficeApp') return ['the root element is not OfficeApp'];
  if (app.attrs['xsi:type'] !== 'MailApp') problems.push('OfficeApp xsi:type is not MailApp');
  problems.push(...orderProblems(app, MAIL_APP_ORDER, 'OfficeApp'));

  // Requirements: a MailApp must name Mailbox; and the sets the add-in uses.
  const sets = Object.fromEntries((kid(kid(app, 'Requirements') ?? { children: [] }, 'Sets')?.children ?? []).map((s) => [s.attrs.Name, s.attrs.MinVersion]));
  for (const s of expected.sets) {
    if (sets[s.name] !== s.minVersion) problems.push(`Requirements: set ${s.name} ${s.minVersion} missing (has ${JSON.stringify(sets)})`);
  }

  // AppDomains: exactly the identity providers' origins, https.
  const domains = kids(kid(app, 'AppDomains') ?? { children: [] }, 'AppDomain').map((d) => d.text.trim());
  const want = [...new Set(expected.appDomains)].sort();
  if (JSON.stringify([...domains].sort()) !== JSON.stringify(want)) problems.push(`AppDomains ${JSON.stringify(domains)} are not the providers' origins ${JSON.stringify(want)}`);
  for (const d of domains) if (!d.startsWith('https://')) problems.push(`AppDomain ${d} is not https`);

  // Every URL the manifest names is https, and the pages are under the base URL.
  const base = new URL(expected.baseUrl).origin;
  const walk = (el, fn) => {
    fn(el);
    for (const c of el.children) walk(c, fn);
  };
  walk(app, (el) => {
    const v = el.attrs.DefaultValue;
    if (v && /^[a-z]+:\/\//i.test(v)) {
      if (!v.startsWith('https://')) problems.push(`<${el.name}> ${v} is not https`);
      else if (!v.startsWith(base + '/')) problems.push(`<${el.name}> ${v} is not on the add-in's origin ${base}`);
    }
  });
  const source = kid(kid(kid(kid(app, 'FormSettings') ?? { children: [] }, 'Form') ?? { children: [] }, 'DesktopSettings') ?? { children: [] }, 'SourceLocation');
  if (!source) problems.push('FormSettings has no DesktopSettings SourceLocation');

  // VersionOverrides 1.0, with a 1.1 nested last; each with the button on MessageReadCommandSurface.
  const vo = kid(app, 'VersionOverrides');
  if (!vo || vo.attrs['xsi:type'] !== 'VersionOverridesV1_0') return [...problems, 'no VersionOverridesV1_0'];
  problems.push(...orderProblems(vo, VERSION_OVERRIDES_ORDER, 'VersionOverrides 1.0'));
  const vo11 = kid(vo, 'VersionOverrides');
  if (!vo11 || vo11.attrs['xsi:type'] !== 'VersionOverridesV1_1') problems.push('no VersionOverridesV1_1 nested in 1.0');
  else {
    if (vo.children[vo.children.length - 1] !== vo11) problems.push('VersionOverrides 1.1 is not the last child of 1.0');
    problems.push(...orderProblems(vo11, VERSION_OVERRIDES_1_1_ORDER, 'VersionOverrides 1.1'));
  }
  for (const [label, v] of [['1.0', vo], ['1.1', vo11]]) {
    if (!v) continue;
    const resources = kid(v, 'Resources');
    const ids = new Map();
    walk(resources ?? { children: [] }, (el) => el.attrs.id && ids.set(el.attrs.id, el.attrs.DefaultValue));
    let button = null;
    walk(kid(v, 'Hosts') ?? { children: [] }, (el) => {
      if (local(el.name) === 'ExtensionPoint' && el.attrs['xsi:type'] === 'MessageReadCommandSurface') {
        walk(el, (c) => {
          if (local(c.name) === 'Action' && c.attrs['xsi:type'] === 'ShowTaskpane') button = c;
        });
      }
      if (el.attrs.resid && !ids.has(el.attrs.resid)) problems.push(`VersionOverrides ${label}: resid ${el.attrs.resid} is not in Resources`);
    });
    if (!button) problems.push(`VersionOverrides ${label}: no ShowTaskpane button on MessageReadCommandSurface`);
    else {
      const url = ids.get(kid(button, 'SourceLocation')?.attrs.resid);
      if (url !== source?.attrs.DefaultValue) problems.push(`VersionOverrides ${label}: the button opens ${url}, not the task pane ${source?.attrs.DefaultValue}`);
    }
  }
  return problems;
}
