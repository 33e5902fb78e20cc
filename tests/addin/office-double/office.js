// TEST DOUBLE of office.js (tests/addin): loaded in place of Microsoft's office.js through
// the add-in's one setting (addin-manifest/addin-settings.json `officeJs`, which the test
// server and the demo answer with this file). It is the add-in side of an emulated Outlook
// on the web: the host side is outlook.js, the top-level page the task pane is framed in.
// The two talk with postMessage, as office.js and Outlook on the web do.
//
// Roles, by where this page runs:
//   task pane  framed by outlook.html (window.parent)      context, requirements, displayDialogAsync
//   dialog     a pop-up opened by outlook.html (opener)    messageParent, isSetSupported
//   neither    Office.onReady gives {host: null, platform: null} and no context.ui, as the real
//              office.js does outside Office (/work/shared/toolchain.md, "Office add-in")
//
// Behaviour and its source (OfficeDev/office-js-docs-pr):
//   Office.onReady resolves {host, platform} once Office initialized the page
//       docs/develop/initialize-add-in.md
//   context.mailbox.userProfile.emailAddress, context.partitionKey (undefined where storage is
//       not partitioned)      docs/develop/persisting-add-in-state-and-settings.md
//   context.requirements.isSetSupported(name, minVersion)
//       docs/develop/specify-office-hosts-and-api-requirements.md
//   displayDialogAsync(url, options?, callback) → AsyncResult {status, value: Dialog, error {code}}
//       and the codes 12004/12005/12007/12009/12011, events 12002/12003/12006
//       docs/develop/dialog-handle-errors-events.md, docs/develop/dialog-api-in-office-add-ins.md,
//       docs/develop/dialog-best-practices.md (Allow/Ignore prompt, promptBeforeOpen)
//   messageParent(message, {targetOrigin}) and DialogMessageReceived {message, origin}
//       docs/develop/dialog-api-in-office-add-ins.md ("Cross-domain messaging to the host runtime")
//   dialog.messageChild / DialogParentMessageReceived   docs/develop/parent-to-dialog.md
//   context.mailbox.makeEwsRequestAsync(data, callback, userContext) → AsyncResult {status,
//       value: the SOAP response as a string, asyncContext}   docs/outlook/web-services.md
//   context.mailbox.getCallbackTokenAsync([options,] callback[, userContext]) → AsyncResult
//       {status, value: the token}    docs/outlook/authentication.md ("Callback tokens")
//       Exchange Online: legacy tokens are turned off → failed, error 9017 GenericTokenError
//       (docs/includes/legacy-exchange-token-deprecation.md,
//       docs/reference/javascript-api-for-office-error-codes.md 9017); the host (outlook.js)
//       decides, from the emulated Exchange (tests/idp/exchange.mjs).
// What the documentation leaves open is a switch of outlook.html (see tests/addin/README.md).
(function () {
  'use strict';
  var NS = 'office-double';
  var role = window.parent !== window ? 'taskpane' : window.opener ? 'dialog' : 'none';
  var peer = role === 'taskpane' ? window.parent : role === 'dialog' ? window.opener : null;
  var hostOrigin = null; // learned from the host's first answer
  var pending = {};
  var nextId = 1;
  var dialogs = {};
  var parentHandlers = [];

  function post(msg) {
    msg.ns = NS;
    peer.postMessage(msg, hostOrigin || '*');
  }

  function compareVersion(a, b) {
    var x = String(a).split('.'), y = String(b).split('.');
    for (var i = 0; i < Math.max(x.length, y.length); i++) {
      var d = (Number(x[i]) || 0) - (Number(y[i]) || 0);
      if (d) return d;
    }
    return 0;
  }

  var Office = {
    AsyncResultStatus: { Succeeded: 'succeeded', Failed: 'failed' },
    EventType: {
      DialogMessageReceived: 'dialogMessageReceived',
      DialogEventReceived: 'dialogEventReceived',
      DialogParentMessageReceived: 'dialogParentMessageReceived',
    },
    HostType: { Outlook: 'Outlook' },
    PlatformType: { OfficeOnline: 'OfficeOnline' },
    context: {},
  };
  var context = null;

  function makeContext(c) {
    var sets = c.sets || {};
    var ctx = {
      partitionKey: c.partitionKey === null ? undefined : c.partitionKey,
      requirements: {
        isSetSupported: function (name, minVersion) {
          var have = sets[name];
          if (have === undefined) return false;
          return compareVersion(have, minVersion || '1.1') >= 0;
        },
      },
      ui: {},
    };
    if (role === 'taskpane') {
      ctx.mailbox = {
        userProfile: { emailAddress: c.mailbox, displayName: c.displayName },
        makeEwsRequestAsync: makeEwsRequestAsync,
        getCallbackTokenAsync: getCallbackTokenAsync,
      };
      ctx.ui.displayDialogAsync = displayDialogAsync;
    } else {
      // "messageParent is one of only two Office APIs you can call in the dialog box; the
      // other is isSetSupported" (dialog-api-in-office-add-ins.md).
      ctx.ui.messageParent = function (message, options) {
        post({ op: 'messageParent', message: String(message), targetOrigin: options && options.targetOrigin });
      };
      ctx.ui.addHandlerAsync = function (type, handler, cb) {
        if (type === Office.EventType.DialogParentMessageReceived) parentHandlers.push(handler);
        if (cb) cb({ status: 'succeeded' });
      };
    }
    return ctx;
  }

  function asyncResult(status, value, code, message, name) {
    var r = { status: status, value: value };
    if (status === 'failed') r.error = { code: code, name: name || 'Error', message: message || 'Error ' + code };
    return r;
  }

  // The host answers {op: 'mailboxResult', id, status, value | code, name, message}.
  function mailboxCall(op, payload, callback, userContext) {
    var id = nextId++;
    pending[id] = function (answer) {
      var r = answer.status === 'succeeded'
        ? asyncResult('succeeded', answer.value)
        : asyncResult('failed', undefined, answer.code, answer.message, answer.name);
      r.asyncContext = userContext;
      if (callback) callback(r);
    };
    payload.op = op;
    payload.id = id;
    post(payload);
  }

  function makeEwsRequestAsync(data, callback, userContext) {
    mailboxCall('ewsRequest', { data: String(data) }, callback, userContext);
  }

  // getCallbackTokenAsync(callback, userContext) or getCallbackTokenAsync(options, callback).
  function getCallbackTokenAsync(a, b, c) {
    if (typeof a === 'function') return mailboxCall('callbackToken', { isRest: false }, a, b);
    var options = a || {};
    return mailboxCall('callbackToken', { isRest: !!options.isRest }, b, options.asyncContext !== undefined ? options.asyncContext : c);
  }

  function displayDialogAsync(url, options, callback) {
    if (typeof options === 'function') {
      callback = options;
      options = {};
    }
    options = options || {};
    var id = nextId++;
    pending[id] = function (answer) {
      if (answer.status !== 'succeeded') return callback && callback(asyncResult('failed', undefined, answer.code, answer.message));
      var dialog = {
        handlers: {},
        addEventHandler: function (type, handler) {
          (this.handlers[type] = this.handlers[type] || []).push(handler);
        },
        close: function () {
          delete dialogs[answer.dialogId];
          post({ op: 'closeDialog', dialogId: answer.dialogId });
        },
        messageChild: function (message, opts) {
          post({ op: 'messageChild', dialogId: answer.dialogId, message: String(message), targetOrigin: opts && opts.targetOrigin });
        },
      };
      dialogs[answer.dialogId] = dialog;
      if (callback) callback(asyncResult('succeeded', dialog));
    };
    post({
      op: 'displayDialog',
      id: id,
      url: String(url),
      options: { promptBeforeOpen: options.promptBeforeOpen !== false, height: options.height, width: options.width },
    });
  }

  function fire(dialogId, type, arg) {
    var d = dialogs[dialogId];
    if (!d) return;
    var hs = d.handlers[type] || [];
    for (var i = 0; i < hs.length; i++) {
      try {
        hs[i](arg);
      } catch (e) {
        setTimeout(function () { throw e; });
      }
    }
  }

  var readyResolve;
  var ready = new Promise(function (r) { readyResolve = r; });
  Office.onReady = function (cb) {
    return ready.then(function (info) {
      if (cb) cb(info);
      return info;
    });
  };
  Office.initialize = function () {};

  if (!peer) {
    readyResolve({ host: null, platform: null });
  } else {
    window.addEventListener('message', function (event) {
      var data = event.data;
      if (event.source !== peer || !data || data.ns !== NS) return;
      if (hostOrigin && event.origin !== hostOrigin) return;
      switch (data.op) {
        case 'context':
          hostOrigin = event.origin;
          context = makeContext(data.context);
          Office.context = context;
          readyResolve({ host: 'Outlook', platform: 'OfficeOnline' });
          try {
            Office.initialize();
          } catch (e) { /* the page's own */ }
          break;
        case 'mailboxResult':
        case 'displayDialogResult': {
          var p = pending[data.id];
          delete pending[data.id];
          if (p) p(data);
          break;
        }
        case 'dialogMessage':
          fire(data.dialogId, Office.EventType.DialogMessageReceived, { message: data.message, origin: data.origin, type: Office.EventType.DialogMessageReceived });
          break;
        case 'dialogEvent':
          fire(data.dialogId, Office.EventType.DialogEventReceived, { error: data.error, type: Office.EventType.DialogEventReceived });
          if (data.error === 12006 || data.error === 12002 || data.error === 12003) delete dialogs[data.dialogId];
          break;
        case 'parentMessage':
          for (var i = 0; i < parentHandlers.length; i++) parentHandlers[i]({ message: data.message, origin: data.origin });
          break;
      }
    });
    // Hello: the host answers with the context (the real office.js is initialized by its host).
    peer.postMessage({ ns: NS, op: 'hello', role: role, href: location.origin + location.pathname }, '*');
  }
  window.Office = Office;
})();
