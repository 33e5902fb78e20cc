// Runs in every webview, including the old ones of perpetual Office on Windows (Internet
// Explorer 11 / Trident, Edge Legacy / EdgeHTML: docs/develop/support-ie-11.md in
// OfficeDev/office-js-docs-pr). Written in ES5 on purpose. Where WebAssembly or module
// scripts are missing, the engine cannot start: say so in plain words and what to do,
// instead of an empty pane.
(function () {
  var hasWasm = typeof WebAssembly === 'object' && typeof WebAssembly.instantiate === 'function';
  var hasModules = 'noModule' in document.createElement('script');
  if (hasWasm && hasModules) return;
  window.__sidebarAuthUnsupported = true;
  function show() {
    var app = document.getElementById('app');
    if (!app) return;
    app.innerHTML = '';
    var box = document.createElement('div');
    box.className = 'sa-boot-error';
    box.setAttribute('role', 'alert');
    box.setAttribute('data-testid', 'unsupported');
    var title = document.createElement('strong');
    title.appendChild(document.createTextNode('Sync Settings cannot run in this version of Outlook. '));
    var text = document.createElement('span');
    text.appendChild(document.createTextNode(
      'This Outlook shows add-ins with an old browser engine that lacks WebAssembly. ' +
      'Update to a Microsoft 365 version of Outlook (it uses Microsoft Edge WebView2), ' +
      'or open Sync Settings in Outlook on the web. Your connections are not affected.'));
    box.appendChild(title);
    box.appendChild(text);
    app.appendChild(box);
    document.body.setAttribute('data-ready', 'unsupported');
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', show);
  else show();
})();
