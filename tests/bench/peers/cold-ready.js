// The cold-start benchmark's finish line, shared by the peers' pages: the authorization URL
// is built (the page would navigate to it now). performance.now() is measured from the
// page's (or the task pane frame's) navigation start.
export function urlBuilt(url) {
  globalThis.__coldStart = { readyAt: performance.now(), url: String(url) };
  document.body.dataset.coldStart = 'ready';
}

/** In the add-in task pane (body data-host="office"), a page starts after Office.onReady. */
export async function hostReady() {
  if (document.body.dataset.host === 'office') await globalThis.Office.onReady();
}
