// When a connection needs the user: the toolbar badge, one notification per service and
// reason (naming the service and the reason in plain words), and the side panel on click.
// Everything here is drawn from the engine's view (DashboardView); nothing is decided here.

const NOTIFIED_KEY = 'sidebar-auth:notified'; // chrome.storage.session: {service: reason}
const NOTIFICATION_PREFIX = 'sidebar-auth:';
const BADGE_COLOR = '#d93025';

/** The connections the user must act on, from a DashboardView. */
export function needingAttention(view) {
  const out = [];
  for (const section of view?.sections ?? []) {
    for (const c of section.connections ?? []) {
      if (c.status === 'needs_attention') out.push(c);
    }
  }
  return out;
}

export function notificationId(service) {
  return NOTIFICATION_PREFIX + service;
}

export function serviceOfNotification(id) {
  return typeof id === 'string' && id.startsWith(NOTIFICATION_PREFIX) ? id.slice(NOTIFICATION_PREFIX.length) : null;
}

function describe(c) {
  return c.reasonText || c.statusText || 'Sign in again to keep it in sync.';
}

/**
 * Keeps badge and notifications in line with the engine's view. Calls are serialized and
 * skipped when nothing the user would see changed.
 */
export function attentionKeeper({ iconUrl }) {
  let lastSignature = null;
  let queue = Promise.resolve();

  async function apply(view) {
    const needs = needingAttention(view);
    const signature = JSON.stringify(needs.map((c) => [c.service, c.reason, c.reasonText]));
    if (signature === lastSignature) return;
    lastSignature = signature;

    const title = needs.length
      ? `Sync Settings: ${needs.map((c) => c.title).join(', ')} ${needs.length > 1 ? 'need' : 'needs'} you`
      : 'Sync Settings';
    await Promise.all([
      chrome.action.setBadgeText({ text: needs.length ? '!' : '' }),
      chrome.action.setBadgeBackgroundColor({ color: BADGE_COLOR }),
      chrome.action.setTitle({ title }),
    ]);

    // One notification per service and reason: not again on every worker start.
    const stored = (await chrome.storage.session.get(NOTIFIED_KEY))[NOTIFIED_KEY] ?? {};
    const next = {};
    for (const c of needs) {
      const key = c.reason ?? c.providerCode ?? 'attention';
      next[c.service] = key;
      if (stored[c.service] === key) continue;
      await chrome.notifications.create(notificationId(c.service), {
        type: 'basic',
        iconUrl,
        title: `${c.title} needs you`,
        message: describe(c),
        contextMessage: c.account ? `${c.account} · open Sync Settings to ${c.action === 'change' ? 'change the account' : 'sign in again'}` : 'Open Sync Settings',
        priority: 1,
      });
    }
    for (const service of Object.keys(stored)) {
      if (!(service in next)) await chrome.notifications.clear(notificationId(service));
    }
    await chrome.storage.session.set({ [NOTIFIED_KEY]: next });
  }

  return {
    update(view) {
      queue = queue.then(() => apply(view)).catch((err) => console.warn('sidebar-auth: attention update failed:', err?.message ?? err));
      return queue;
    },
  };
}
