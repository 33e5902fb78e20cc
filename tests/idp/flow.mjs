// Browserless driver for the emulator's authorization code + PKCE flow, for
// node tests: follows redirects by hand, keeps cookies, fills oidc-provider's
// devInteractions login form (fields: prompt=login, login=<account>,
// password=<anything>) and consent form (prompt=consent).
//
//   const jar = new CookieJar();
//   const { code, state, iss, verifier } = await authorize({ authorizeUrl, clientId, redirectUri, scope, account, jar });

import crypto from 'node:crypto';

export class CookieJar {
  constructor() { this.cookies = new Map(); }

  store(res) {
    for (const line of res.headers.getSetCookie?.() ?? []) {
      const [pair, ...attrs] = line.split(';');
      const i = pair.indexOf('=');
      const name = pair.slice(0, i).trim();
      const value = pair.slice(i + 1).trim();
      const expired = attrs.some((a) => /^\s*max-age=0\s*$/i.test(a)
        || (/^\s*expires=/i.test(a) && Date.parse(a.split('=')[1]) < Date.now()));
      if (expired || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  header() {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  clear() { this.cookies.clear(); }
}

export function pkce() {
  const verifier = crypto.randomBytes(32).toString('base64url');
  const challenge = crypto.createHash('sha256').update(verifier).digest('base64url');
  return { verifier, challenge };
}

// `fetchImpl`: a fetch that does not follow redirects (the global one is used with
// redirect: 'manual'); tls.mjs trustingFetch() for an emulator served over https.
async function get(url, jar, fetchImpl = fetch) {
  const res = await fetchImpl(url, { redirect: 'manual', headers: { cookie: jar.header(), accept: 'text/html' } });
  jar.store(res);
  return res;
}

async function postForm(url, form, jar, fetchImpl = fetch) {
  const res = await fetchImpl(url, {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie: jar.header(), 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' },
    body: new URLSearchParams(form).toString(),
  });
  jar.store(res);
  return res;
}

function formOf(html) {
  const action = /<form[^>]*action="([^"]+)"/i.exec(html)?.[1];
  const prompt = /name="prompt" value="([^"]+)"/i.exec(html)?.[1];
  return { action: action?.replace(/&amp;/g, '&'), prompt };
}

/**
 * Runs the front-channel part of the code flow.
 * Returns {code, state, iss, verifier, callbackUrl, pages} where pages lists the
 * interaction pages seen ('login', 'consent'). With prompt=none (or an existing
 * session) no page may be shown. When the provider answers with an error
 * redirect, returns {error, error_description, state, callbackUrl, ...}.
 */
export async function authorize({
  authorizeUrl, clientId, redirectUri, scope, account, password = 'any-password',
  jar = new CookieJar(), extra = {}, consent = true, maxSteps = 20, fetch: fetchImpl = fetch,
}) {
  const { verifier, challenge } = pkce();
  const state = crypto.randomBytes(12).toString('base64url');
  const u = new URL(authorizeUrl);
  const params = {
    client_id: clientId,
    response_type: 'code',
    redirect_uri: redirectUri,
    scope,
    state,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...extra,
  };
  for (const [k, v] of Object.entries(params)) if (v !== undefined) u.searchParams.set(k, v);

  const pages = [];
  let res = await get(u.href, jar, fetchImpl);
  for (let step = 0; step < maxSteps; step += 1) {
    if (res.status >= 300 && res.status < 400) {
      const loc = new URL(res.headers.get('location'), u).href;
      if (loc.startsWith(redirectUri)) {
        const cb = new URL(loc);
        const p = new URLSearchParams(cb.hash ? cb.hash.slice(1) : cb.search);
        const out = Object.fromEntries(p);
        if (out.state !== undefined && out.state !== state) throw new Error('state mismatch');
        return { ...out, verifier, callbackUrl: loc, pages, jar, sentState: state };
      }
      res = await get(loc, jar, fetchImpl);
      continue;
    }
    const html = await res.text();
    if (res.status !== 200) throw new Error(`unexpected ${res.status} during authorization: ${html.slice(0, 300)}`);
    const { action, prompt } = formOf(html);
    if (!action || !prompt) throw new Error(`no interaction form on page: ${html.slice(0, 300)}`);
    const submit = new URL(action, u).href;
    pages.push(prompt);
    if (prompt === 'login') {
      if (!account) throw new Error('login page shown but no account given');
      res = await postForm(submit, { prompt: 'login', login: account, password }, jar, fetchImpl);
    } else if (prompt === 'consent') {
      if (!consent) return { consentShown: true, pages, verifier, jar };
      res = await postForm(submit, { prompt: 'consent' }, jar, fetchImpl);
    } else {
      throw new Error(`unknown interaction prompt ${prompt}`);
    }
  }
  throw new Error('too many redirects');
}

// POSTs a form to a token endpoint; returns {status, body, text, headers}.
export async function tokenRequest(url, form, { origin, headers = {} } = {}) {
  const h = { 'content-type': 'application/x-www-form-urlencoded', ...headers };
  if (origin) h.origin = origin;
  const res = await fetch(url, { method: 'POST', headers: h, body: new URLSearchParams(form).toString() });
  const text = await res.text();
  let body;
  try { body = JSON.parse(text); } catch { body = undefined; }
  return { status: res.status, body, text, headers: res.headers };
}
