// Devtools page (www/devtools.html): the dashboard next to the engine's redacted state, a
// clock to move forward, and switches on the local identity provider to make it fail the way
// the real providers do. Everything shown here comes from debugState() / eventLog(), which
// the engine redacts; this page never asks for a token.
//
// Identity provider control (config.devtools.controlUrl, cross-origin: the provider must
// answer CORS for this origin):
//   POST {controlUrl}/fail-next     {provider, endpoint: "token", kind: "error", code}
//                                   {provider, endpoint: "token", kind: "status", status, retryAfter}
//                                   {provider, endpoint: "token", kind: "malformed"}
//                                   {provider, endpoint: "token", kind: "delay", ms}
//   POST {controlUrl}/revoke        {provider, account}
//   POST {controlUrl}/end-sessions  {provider}
//   GET  {controlUrl}               help, with `errorCodes` per provider: codes the local provider
//                                   knows beyond the documented list are offered under "Other"

import { bootWebHost, showBootError, supersededBox } from './app.js';
import { mountDashboard } from './dashboard.js';

const PROVIDERS = [
  { id: 'microsoft', label: 'Microsoft (Entra ID)' },
  { id: 'google', label: 'Google' },
  { id: 'salesforce', label: 'Salesforce' },
];

const aad = (n, text) => ({ label: `AADSTS${n}: ${text}`, body: { kind: 'error', code: `AADSTS${n}` } });

/** Every documented token-endpoint error (shared/providers.md), per provider. */
export const PROVIDER_ERRORS = {
  microsoft: [
    aad(50173, 'refresh token revoked (password change, sessions revoked)'),
    aad(700082, 'refresh token expired (90 days unused)'),
    aad(70008, 'refresh token expired'),
    aad(700084, 'spa refresh token reached its 24 h lifetime'),
    aad(70043, 'sign-in frequency policy'),
    aad(50076, 'MFA required'),
    aad(50078, 'MFA expired'),
    aad(50079, 'must register for MFA'),
    aad(50072, 'must enroll for MFA'),
    aad(53003, 'blocked by conditional access'),
    aad(530032, 'blocked by security policy'),
    aad(50131, 'blocked by conditional access'),
    aad(53000, 'device not compliant'),
    aad(53001, 'device not domain-joined'),
    aad(53002, 'app not an approved client'),
    aad(530003, 'device must be managed'),
    aad(65001, 'consent missing'),
    aad(65004, 'consent declined'),
    aad(90094, 'admin consent required'),
    aad(50126, 'wrong user name or password'),
    aad(50055, 'password expired'),
    aad(50144, 'AD password expired'),
    aad(50053, 'account locked'),
    aad(50057, 'account disabled'),
    aad(50034, 'account not in this directory'),
    aad(50020, 'user from another tenant'),
    aad(500208, 'wrong account domain'),
    aad(700016, 'application not found'),
    aad(90002, 'tenant not found'),
    aad(50058, 'no session: interaction required'),
    aad(50196, 'client request loop detected'),
    aad(50033, 'transient: retry'),
    aad(90024, 'transient'),
    aad(50087, 'transient'),
    { label: 'temporarily_unavailable (transient)', body: { kind: 'error', code: 'temporarily_unavailable' } },
    aad(9002327, 'spa token redeemed without Origin'),
    aad(9002326, 'non-spa token redeemed with Origin'),
    aad(700022, 'more than one resource in the request'),
  ],
  google: [
    { label: 'invalid_grant: Token has been expired or revoked.', body: { kind: 'error', code: 'invalid_grant' } },
    { label: 'invalid_grant + error_subtype invalid_rapt (reauthentication policy)', body: { kind: 'error', code: 'invalid_rapt' } },
    { label: 'admin_policy_enforced', body: { kind: 'error', code: 'admin_policy_enforced' } },
    { label: 'invalid_client', body: { kind: 'error', code: 'invalid_client' } },
    { label: 'unauthorized_client', body: { kind: 'error', code: 'unauthorized_client' } },
  ],
  // The local provider takes Salesforce's invalid_grant descriptions as codes.
  salesforce: [
    { label: 'invalid_grant: expired access/refresh token', body: { kind: 'error', code: 'expired access/refresh token' } },
    { label: 'invalid_grant: authentication failure', body: { kind: 'error', code: 'authentication failure' } },
    { label: 'invalid_grant: ip restricted or invalid login hours', body: { kind: 'error', code: 'ip restricted or invalid login hours' } },
    { label: 'inactive_user', body: { kind: 'error', code: 'inactive_user' } },
    { label: 'inactive_org', body: { kind: 'error', code: 'inactive_org' } },
    { label: 'rate_limit_exceeded', body: { kind: 'error', code: 'rate_limit_exceeded' } },
  ],
};

/** Faults any provider's token endpoint can show. `retryAfter`/`ms` come from the form. */
export const TRANSIENT_FAULTS = [
  { label: 'HTTP 503 with Retry-After', body: { kind: 'status', status: 503 }, retryAfter: true },
  { label: 'HTTP 429 Too Many Requests', body: { kind: 'status', status: 429 }, retryAfter: true },
  { label: 'HTTP 500', body: { kind: 'status', status: 500 } },
  { label: 'Slow answer (delay)', body: { kind: 'delay' }, delay: true },
  { label: 'Malformed JSON', body: { kind: 'malformed' } },
  { label: 'Network failure (connection reset)', body: { kind: 'reset' } },
  { label: 'No answer, longer than the engine waits (60 s)', body: { kind: 'hang', ms: 60_000 } },
  { label: 'HTML page with status 200', body: { kind: 'html' } },
  { label: 'JSON without access_token', body: { kind: 'no-access-token' } },
  { label: 'Wrong token_type ("mac")', body: { kind: 'wrong-token-type' } },
  { label: 'Huge body (8 MiB)', body: { kind: 'huge' } },
  { label: 'Redirect (307) to the same endpoint', body: { kind: 'redirect', status: 307 } },
];

/** The faults the provider has armed, in words (GET /control/faults). */
export function describeArmedFaults(faults) {
  if (!Array.isArray(faults) || faults.length === 0) return 'No fault armed.';
  return `Armed: ${faults.map((f) => `${f.provider} ${f.endpoint} → ${f.kind}${f.code ? ` ${f.code}` : ''}${f.status ? ` ${f.status}` : ''}${f.count > 1 ? ` ×${f.count}` : ''}`).join('; ')}.`;
}

const $ = (id) => document.getElementById(id);

/**
 * A `pre` of JSON that scrolls (max-height) as a keyboard-reachable region. WCAG 2.1.1
 * Keyboard: a scrolling box with no focusable content inside cannot be scrolled from the
 * keyboard in every browser (Chromium lets it, Safari and older Firefox do not), so it takes
 * a tab stop; as a named region (4.1.2) a screen reader says what it is when it gets focus.
 */
function jsonBox(value, label) {
  const pre = document.createElement('pre');
  pre.className = 'dt-json dt-scroll';
  pre.tabIndex = 0;
  pre.setAttribute('role', 'region');
  pre.setAttribute('aria-label', label);
  pre.textContent = JSON.stringify(value, null, 2);
  return pre;
}

function setStatus(el, text, kind = 'info') {
  el.textContent = text;
  el.setAttribute('data-kind', kind);
}

function errText(err) {
  return err?.message ?? err?.code ?? String(err);
}

function fmtTime(ms) {
  if (!Number.isFinite(ms)) return '–';
  return new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

function fmtDuration(ms) {
  const neg = ms < 0;
  let s = Math.round(Math.abs(ms) / 1000);
  const d = Math.floor(s / 86400);
  s -= d * 86400;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  const parts = [];
  if (d) parts.push(`${d} d`);
  if (h) parts.push(`${h} h`);
  if (m || !parts.length) parts.push(`${m} min`);
  return (neg ? '−' : '+') + parts.join(' ');
}

/** debugState() as [{service, state}] whatever its exact shape. */
function connectionsOf(debug) {
  if (!debug || typeof debug !== 'object') return [];
  if (Array.isArray(debug)) return debug.map((c, i) => ({ service: c?.service ?? String(i), state: c }));
  const conns = debug.connections;
  if (Array.isArray(conns)) return conns.map((c, i) => ({ service: c?.service ?? String(i), state: c }));
  if (conns && typeof conns === 'object') return Object.entries(conns).map(([service, state]) => ({ service, state }));
  return [];
}

async function main() {
  const bootBox = $('boot');
  let host;
  let dashboard = null;
  let superseded = false;
  const onSuperseded = () => {
    // Another page took over the engine (app.js takeEngineLock): stop showing this one.
    superseded = true;
    dashboard?.unmount();
    document.querySelector('.dt-grid').hidden = true;
    bootBox.replaceChildren(supersededBox());
  };
  try {
    host = await bootWebHost({ onSuperseded });
  } catch (err) {
    showBootError(bootBox, err);
    $('dashboard').replaceChildren();
    document.body.setAttribute('data-ready', 'error');
    return;
  }
  const { auth, config } = host;
  $('dashboard-link').search = location.search;
  if (superseded) {
    document.body.setAttribute('data-ready', 'superseded');
    return;
  }
  dashboard = mountDashboard($('dashboard'), auth);

  const controlUrl = config?.devtools?.controlUrl ? String(config.devtools.controlUrl).replace(/\/+$/, '') : null;
  const wallStart = Date.now();
  const engineStart = auth.view().now;

  async function control(path, body) {
    if (controlUrl) {
      const res = await fetch(controlUrl + path, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
      });
      const text = await res.text();
      if (!res.ok) throw { code: 'control_failed', message: `${path}: HTTP ${res.status} ${text.slice(0, 200)}` };
      return text;
    }
    throw { code: 'no_control_url', message: 'No identity provider control URL: set devtools.controlUrl in the configuration.' };
  }

  // ---- state and log ------------------------------------------------------------------------

  function renderClock() {
    let now;
    try {
      now = auth.view().now;
    } catch {
      now = NaN;
    }
    const skew = now - engineStart - (Date.now() - wallStart);
    $('dt-clock').textContent = `${fmtTime(now)}  (${Math.abs(skew) < 1000 ? 'in step with this device' : `${fmtDuration(skew)} ahead`})`;
  }

  function renderState() {
    let debug;
    try {
      debug = auth.debugState();
    } catch (err) {
      $('dt-state').textContent = `debugState() failed: ${errText(err)}`;
      return;
    }
    const conns = connectionsOf(debug);
    const box = $('dt-state');
    const nodes = [];
    const rest = debug && typeof debug === 'object' && !Array.isArray(debug) ? { ...debug } : null;
    if (rest) delete rest.connections;
    if (rest && Object.keys(rest).length) nodes.push(jsonBox(rest, 'Engine state'));
    for (const { service, state } of conns) {
      const wrap = document.createElement('div');
      wrap.className = 'dt-conn';
      wrap.setAttribute('data-testid', `dt-state-${service}`);
      const h = document.createElement('h3');
      h.textContent = service;
      wrap.append(h, jsonBox(state, `${service} state`));
      nodes.push(wrap);
    }
    if (!nodes.length) nodes.push(jsonBox(debug, 'Engine state'));
    box.replaceChildren(...nodes);
  }

  function renderLog() {
    let events;
    try {
      events = auth.eventLog() ?? [];
    } catch (err) {
      events = [{ at: Date.now(), service: '-', kind: 'devtools', detail: `eventLog() failed: ${errText(err)}` }];
    }
    const rows = events
      .slice()
      .reverse()
      .map((e) => {
        const tr = document.createElement('tr');
        for (const v of [fmtTime(e.at), e.service ?? '', e.kind ?? '', e.detail ?? '']) {
          const td = document.createElement('td');
          td.textContent = v;
          tr.append(td);
        }
        return tr;
      });
    $('dt-log-body').replaceChildren(...rows);
  }

  let scheduled = false;
  function refreshAll() {
    if (scheduled) return;
    scheduled = true;
    requestAnimationFrame(() => {
      scheduled = false;
      renderClock();
      renderState();
      renderLog();
      updateAccount();
    });
  }
  auth.subscribe(() => refreshAll());
  setInterval(renderClock, 5000);
  $('dt-log-refresh').addEventListener('click', refreshAll);

  // ---- clock --------------------------------------------------------------------------------

  async function advance(ms) {
    const status = $('dt-clock-status');
    try {
      auth.advanceClock(ms);
      setStatus(status, `Advanced ${fmtDuration(ms)}; running due work…`);
      await host.tick();
      setStatus(status, `Advanced ${fmtDuration(ms)} and ticked.`);
    } catch (err) {
      setStatus(status, `Failed: ${errText(err)}`, 'error');
    }
    dashboard.render();
    refreshAll();
  }
  for (const b of document.querySelectorAll('[data-advance-ms]')) {
    b.addEventListener('click', () => advance(Number(b.getAttribute('data-advance-ms'))));
  }
  $('dt-custom-advance').addEventListener('submit', (e) => {
    e.preventDefault();
    const amount = Number($('dt-custom-amount').value);
    const unit = Number($('dt-custom-unit').value);
    if (!Number.isFinite(amount) || amount <= 0) {
      setStatus($('dt-clock-status'), 'Enter a positive amount.', 'error');
      return;
    }
    advance(amount * unit);
  });
  $('dt-tick').addEventListener('click', async () => {
    await host.tick();
    setStatus($('dt-clock-status'), 'Ticked.');
    refreshAll();
  });

  // ---- faults -------------------------------------------------------------------------------

  const providerSelect = $('dt-fault-provider');
  const kindSelect = $('dt-fault-kind');
  for (const p of PROVIDERS) providerSelect.append(new Option(p.label, p.id));

  // Codes the local provider knows that the documented list above does not name.
  let extraCodes = {};
  if (controlUrl) {
    fetch(controlUrl)
      .then((r) => (r.ok ? r.json() : null))
      .then((help) => {
        if (!help?.errorCodes) return;
        for (const [provider, codes] of Object.entries(help.errorCodes)) {
          const known = new Set((PROVIDER_ERRORS[provider] ?? []).map((e) => String(e.body.code).replace(/^AADSTS/, '')));
          extraCodes[provider] = codes.map(String).filter((c) => !known.has(c.replace(/^AADSTS/, '')));
        }
        fillFaults();
      })
      .catch(() => {});
  }

  let options = [];
  function fillFaults() {
    const provider = providerSelect.value;
    options = [];
    kindSelect.replaceChildren();
    const group = (label, list) => {
      const g = document.createElement('optgroup');
      g.label = label;
      for (const f of list) {
        const opt = new Option(f.label, String(options.length));
        options.push(f);
        g.append(opt);
      }
      kindSelect.append(g);
    };
    group('Provider errors (documented)', PROVIDER_ERRORS[provider] ?? []);
    const extra = (extraCodes[provider] ?? []).map((c) => ({
      label: provider === 'microsoft' && /^\d+$/.test(c) ? `AADSTS${c}` : c,
      body: { kind: 'error', code: provider === 'microsoft' && /^\d+$/.test(c) ? `AADSTS${c}` : c },
    }));
    if (extra.length) group('Other codes of the local provider', extra);
    group('Transient faults', TRANSIENT_FAULTS);
    syncFaultInputs();
    updateAccount();
  }
  function syncFaultInputs() {
    const f = options[Number(kindSelect.value)];
    $('dt-fault-retry-row').hidden = !f?.retryAfter;
    $('dt-fault-delay-row').hidden = !f?.delay;
  }
  providerSelect.addEventListener('change', fillFaults);
  kindSelect.addEventListener('change', syncFaultInputs);

  let accountEdited = false;
  $('dt-account').addEventListener('input', () => {
    accountEdited = $('dt-account').value !== '';
  });
  function updateAccount() {
    if (accountEdited) return;
    const provider = providerSelect.value;
    let account = '';
    for (const s of auth.view().sections ?? []) for (const c of s.connections ?? []) if (c.service === provider && c.account) account = c.account;
    $('dt-account').value = account;
  }

  $('dt-fault').addEventListener('submit', async (e) => {
    e.preventDefault();
    const f = options[Number(kindSelect.value)];
    if (!f) return;
    const body = { provider: providerSelect.value, endpoint: 'token', ...f.body };
    if (f.retryAfter) body.retryAfter = Number($('dt-fault-retry-after').value) || 0;
    if (f.delay) body.ms = Number($('dt-fault-delay').value) || 0;
    const status = $('dt-fault-status');
    try {
      await control('/fail-next', body);
      setStatus(status, `Armed: the next ${body.provider} token request answers “${f.label}”.`);
    } catch (err) {
      setStatus(status, `Failed: ${errText(err)}`, 'error');
    }
    refreshAll();
    showArmed();
  });

  // What the provider still has armed (a fault stays until a request takes it).
  async function showArmed() {
    if (!controlUrl) return;
    try {
      const res = await fetch(`${controlUrl}/faults`);
      $('dt-fault-armed').textContent = describeArmedFaults(res.ok ? await res.json() : null);
    } catch {
      $('dt-fault-armed').textContent = 'The identity provider could not be asked.';
    }
  }
  setInterval(showArmed, 2000);
  showArmed();

  $('dt-revoke').addEventListener('click', async () => {
    const provider = providerSelect.value;
    const account = $('dt-account').value.trim();
    const status = $('dt-fault-status');
    if (!account) {
      setStatus(status, 'Enter the account whose grants to revoke.', 'error');
      return;
    }
    try {
      await control('/revoke', { provider, account });
      setStatus(status, `Revoked every grant of ${account} at ${provider}, as a password change does.`);
    } catch (err) {
      setStatus(status, `Failed: ${errText(err)}`, 'error');
    }
    refreshAll();
  });

  $('dt-end-sessions').addEventListener('click', async () => {
    const provider = providerSelect.value;
    const status = $('dt-fault-status');
    try {
      await control('/end-sessions', { provider });
      setStatus(status, `Ended the login sessions at ${provider}: the next sign-in asks for a password.`);
    } catch (err) {
      setStatus(status, `Failed: ${errText(err)}`, 'error');
    }
    refreshAll();
  });

  // ---- export -------------------------------------------------------------------------------

  $('dt-export').addEventListener('click', () => {
    let debug = null;
    try {
      debug = auth.debugState();
    } catch {
      debug = null;
    }
    const report = {
      exportedAt: new Date().toISOString(),
      engineNow: auth.view().now,
      userAgent: navigator.userAgent,
      events: auth.eventLog(),
      debugState: debug,
    };
    const blob = new Blob([JSON.stringify(report, null, 2)], { type: 'application/json' });
    const url = URL.createObjectURL(blob);
    const a = document.createElement('a');
    a.href = url;
    a.download = `sidebar-auth-events-${report.exportedAt.replace(/[:.]/g, '-')}.json`;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  });

  fillFaults();
  refreshAll();
  document.body.setAttribute('data-ready', 'true');
}

main();
