// Chrome match patterns (https://developer.chrome.com/docs/extensions/develop/concepts/match-patterns),
// the subset this extension uses: <scheme>://<host>/<path> with `*` wildcards, no port in
// the pattern meaning any port. Shared by the worker (who may ask), the side panel (which
// origins need a run-time permission) and the build (host permissions).

function escape(s) {
  return s.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
}

/** @returns {RegExp|null} */
export function compilePattern(pattern) {
  const m = /^(\*|https?|wss?):\/\/(\*|\*\.[^/*:]+|[^/*:]+)(?::(\d+|\*))?(\/.*)$/.exec(pattern);
  if (!m) return null;
  const [, scheme, host, port, path] = m;
  const schemeRe = scheme === '*' ? 'https?' : escape(scheme);
  let hostRe;
  if (host === '*') hostRe = '[^/:]+';
  else if (host.startsWith('*.')) hostRe = `(?:[^/:]+\\.)?${escape(host.slice(2))}`;
  else hostRe = escape(host);
  const portRe = port && port !== '*' ? `:${port}` : '(?::\\d+)?';
  const pathRe = path.split('*').map(escape).join('.*');
  return new RegExp(`^${schemeRe}://${hostRe}${portRe}${pathRe}$`);
}

/** Does `url` match any of `patterns`? */
export function matchesAny(url, patterns) {
  if (typeof url !== 'string') return false;
  let normalized;
  try {
    const u = new URL(url);
    normalized = `${u.protocol}//${u.host}${u.pathname}${u.search}`;
  } catch {
    return false;
  }
  return (patterns ?? []).some((p) => compilePattern(p)?.test(normalized) ?? false);
}

/** Is every URL of `origin` covered by one of `patterns` (host permissions)? */
export function originCovered(origin, patterns) {
  return matchesAny(`${origin}/`, patterns) && matchesAny(`${origin}/any/path`, patterns);
}

/** `https://host:port/*` → the host-permission pattern for an origin (any port on loopback). */
export function patternForOrigin(origin) {
  const u = new URL(origin);
  return `${u.protocol}//${u.hostname}/*`;
}
