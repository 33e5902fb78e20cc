// What a content script may ask the worker to fetch: only the operations the sidebar UI
// declares, in one reviewed list in the extension's configuration (config.json
// "contentScript.operations"). Extension pages are not limited by it; the engine still
// sends a token only to the service's own API origins, for everyone.
//
// A content script runs in a page the extension does not control (Gmail); if that page or
// the renderer is compromised, the content script is a confused deputy holding every
// service's authority. The list narrows that authority to what the sidebar needs.
//
//   operation = { service, method, path, base? }
//     service  "microsoft" | "google" | "salesforce" | ...
//     method   "GET", "POST", ...
//     path     a path prefix, relative to the service's API base ("apiBases" in config.json),
//              or, with base "instance", to the connection's own instance (Salesforce's
//              instance_url, whose origin the engine checks)

/** The declared operations of a config.json file (none when it declares none). */
export function contentOperations(file) {
  const ops = file?.contentScript?.operations;
  return Array.isArray(ops) ? ops.filter(validOperation) : [];
}

function validOperation(op) {
  return op && typeof op.service === 'string' && typeof op.method === 'string' && typeof op.path === 'string' && op.path.startsWith('/');
}

/**
 * May a content script make this fetch? `{ok: true}` or `{ok: false, reason}`.
 * @param {object[]} operations  contentOperations(file)
 * @param {Record<string, string>} apiBases
 * @param {{service: string, url: string, init?: {method?: string}}} request
 */
export function contentFetchAllowed(operations, apiBases, { service, url, init }) {
  let target;
  try {
    target = new URL(url);
  } catch {
    return { ok: false, reason: 'not a URL' };
  }
  const method = String(init?.method ?? 'GET').toUpperCase();
  for (const op of operations) {
    if (op.service !== service || op.method.toUpperCase() !== method) continue;
    if (op.base === 'instance') {
      if (target.pathname.startsWith(op.path)) return { ok: true };
      continue;
    }
    const base = apiBases?.[service];
    if (typeof base !== 'string') continue;
    let root;
    try {
      root = new URL(base);
    } catch {
      continue;
    }
    const prefix = root.pathname.replace(/\/+$/, '') + op.path;
    if (target.origin === root.origin && target.pathname.startsWith(prefix)) return { ok: true };
  }
  return { ok: false, reason: `${method} ${target.origin}${target.pathname} is not an operation the sidebar declares for ${service}` };
}
