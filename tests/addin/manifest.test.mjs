// The add-in's manifests validate offline, and a deliberately broken one of each kind fails.
// The checked-in manifests (addin-manifest/manifest.xml, manifest.json) are the generator's
// output for the default base URL and the real providers' origins (config.example.json:
// placeholder client ids, the engine's default endpoints).

import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';

import { checkJsonManifest, checkXmlManifest } from './manifest-check.mjs';
import { appDomainsFor, jsonManifest, xmlManifest, DEFAULT_BASE_URL, EXAMPLE_CONFIG, REQUIREMENT_SETS } from '../../addin-manifest/manifests.mjs';
import { REPO_ROOT } from '../web/static-server.mjs';

const DIR = path.join(REPO_ROOT, 'addin-manifest');
let realDomains;
before(async () => {
  realDomains = await appDomainsFor(JSON.parse(await readFile(EXAMPLE_CONFIG, 'utf8')));
});

describe('add-in manifests', () => {
  it('the engine gives the AppDomains: the real providers\' https origins', () => {
    assert.ok(realDomains.length >= 3, JSON.stringify(realDomains));
    for (const d of realDomains) assert.match(d, /^https:\/\/[^/]+$/);
    assert.equal(realDomains.includes(new URL(DEFAULT_BASE_URL).origin), false, 'not the add-in itself');
  });

  it('the checked-in manifests are the generator\'s output (regenerate with node addin-manifest/manifests.mjs)', async () => {
    assert.equal(await readFile(path.join(DIR, 'manifest.xml'), 'utf8'), xmlManifest({ baseUrl: DEFAULT_BASE_URL, appDomains: realDomains }));
    assert.deepEqual(JSON.parse(await readFile(path.join(DIR, 'manifest.json'), 'utf8')), jsonManifest({ baseUrl: DEFAULT_BASE_URL, appDomains: realDomains }));
  });

  it('the unified manifest validates against the v1.30 schema bundled in @microsoft/app-manifest', async () => {
    const m = JSON.parse(await readFile(path.join(DIR, 'manifest.json'), 'utf8'));
    assert.deepEqual(await checkJsonManifest(m), []);
    assert.equal(m.manifestVersion, '1.30');
    assert.deepEqual(m.extensions[0].requirements.capabilities.map((c) => c.name), ['Mailbox', 'DialogApi']);
    assert.equal(m.extensions[0].runtimes[0].code.page, `${DEFAULT_BASE_URL}/addin-manifest/taskpane.html`);
    for (const d of realDomains) assert.ok(m.validDomains.includes(new URL(d).host), `validDomains has ${d}`);
  });

  it('a broken unified manifest fails the schema', async () => {
    const m = jsonManifest({ appDomains: realDomains });
    const noPage = structuredClone(m);
    delete noPage.extensions[0].runtimes[0].code;
    assert.notDeepEqual(await checkJsonManifest(noPage), []);
    const badScope = structuredClone(m);
    badScope.extensions[0].requirements.scopes = ['inbox'];
    assert.notDeepEqual(await checkJsonManifest(badScope), []);
  });

  it('the XML manifest is well-formed and has the structure Outlook requires', async () => {
    const text = await readFile(path.join(DIR, 'manifest.xml'), 'utf8');
    assert.deepEqual(checkXmlManifest(text, { baseUrl: DEFAULT_BASE_URL, appDomains: realDomains, sets: REQUIREMENT_SETS }), []);
  });

  it('a manifest for another base URL points every page there', () => {
    const baseUrl = 'https://addin.contoso.test/sidebar';
    const text = xmlManifest({ baseUrl, appDomains: realDomains });
    assert.deepEqual(checkXmlManifest(text, { baseUrl, appDomains: realDomains, sets: REQUIREMENT_SETS }), []);
    assert.match(text, /https:\/\/addin\.contoso\.test\/sidebar\/addin-manifest\/taskpane\.html/);
    assert.throws(() => xmlManifest({ baseUrl: 'http://addin.contoso.test' }), /must be https/);
  });

  describe('a broken XML manifest fails the check', () => {
    const expected = () => ({ baseUrl: DEFAULT_BASE_URL, appDomains: realDomains, sets: REQUIREMENT_SETS });
    const good = () => xmlManifest({ appDomains: realDomains });
    const cases = [
      ['not well-formed', (x) => x.replace('</Hosts>', '</Host>'), /not well-formed/],
      ['VersionOverrides children out of order', (x) => {
        const req = x.match(/    <Requirements>\n      <bt:Sets DefaultMinVersion="1.3">[\s\S]*?    <\/Requirements>\n/)[0];
        return x.replace(req, '').replace('    <Resources>', req + '    <Resources>');
      }, /out of order/],
      ['OfficeApp children out of order', (x) => x.replace(/  <DisplayName[^\n]*\n/, '').replace('  <AppDomains>', '  <DisplayName DefaultValue="Sync Settings"/>\n  <AppDomains>'), /out of order/],
      ['no DialogApi requirement', (x) => x.replace(/\s*<Set Name="DialogApi"[^>]*\/>/, ''), /DialogApi/],
      ['an http page', (x) => x.replace('DefaultValue="https://127.0.0.1:8443/addin-manifest/taskpane.html"', 'DefaultValue="http://127.0.0.1:8443/addin-manifest/taskpane.html"'), /not https/],
      ['a provider missing from AppDomains', (x) => x.replace(/\s*<AppDomain>[^<]*<\/AppDomain>/, ''), /AppDomains/],
      ['no 1.1 overrides', (x) => x.replace(/\s*<VersionOverrides xmlns="http:\/\/schemas.microsoft.com\/office\/mailappversionoverrides\/1.1"[\s\S]*?<\/VersionOverrides>/, ''), /VersionOverridesV1_1/],
      ['the button opens another page', (x) => x.replaceAll('<SourceLocation resid="taskpaneUrl"/>', '<SourceLocation resid="icon16"/>'), /opens/],
    ];
    for (const [name, breakIt, why] of cases) {
      it(name, () => {
        const broken = breakIt(good());
        assert.notEqual(broken, good(), 'the test really changed the manifest');
        const problems = checkXmlManifest(broken, expected());
        assert.ok(problems.some((p) => why.test(p)), JSON.stringify(problems));
      });
    }
  });
});
