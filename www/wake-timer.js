// The one wake-up timer of a page's engine, shared by the hosts that run the engine in a page
// (the web host, the Outlook task pane): each `schedule` replaces the previous wake-up.
// setTimeout takes a signed 32-bit delay and fires at once beyond it (about 24.8 days), so a
// far wake-up is waited out in steps.

/** setTimeout takes a signed 32-bit delay; anything longer fires at once. */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/**
 * @param {Window} win        the window whose timers to use
 * @param {(() => void) | null} [onWake]  what a wake-up calls (the page: `() => auth.tick()`)
 */
export function wakeTimer(win, onWake = null) {
  let callback = typeof onWake === 'function' ? onWake : null;
  let timer = null;
  let at = null;
  const cancel = () => {
    if (timer !== null) win.clearTimeout(timer);
    timer = null;
    at = null;
  };
  return {
    /** Wake at `epochMs` (replacing any earlier request); anything but a number cancels. */
    schedule(epochMs) {
      cancel();
      if (typeof epochMs !== 'number' || !Number.isFinite(epochMs)) return;
      at = epochMs;
      const arm = () => {
        const delay = Math.min(Math.max(0, at - Date.now()), MAX_TIMEOUT_MS);
        timer = win.setTimeout(() => {
          timer = null;
          // A clamped wake-up is not due yet: wait the rest.
          if (Date.now() < at - 1000) return arm();
          at = null;
          try {
            callback?.();
          } catch (err) {
            console.error('[sidebar-auth] wake-up callback failed', err);
          }
        }, delay);
      };
      arm();
    },
    onWake(fn) {
      callback = typeof fn === 'function' ? fn : null;
    },
    /** When the next wake-up is armed for (epoch ms), or null. */
    at: () => at,
    cancel,
  };
}
