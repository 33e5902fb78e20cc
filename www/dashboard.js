// The Sync Settings screen: renders the engine's DashboardView and calls its methods.
//
// Shared by every host (web page, Chrome side panel, Outlook task pane): nothing here knows
// how a host opens windows or stores data, nor any provider. It decides nothing either: the
// engine's view says what to show (status, reason, deadlines and their words, which
// buttons, which mail service selects which card); this file only draws it, in the
// screen's own vocabulary (button labels, headings).
//
//   renderDashboard(root, view, actions, options?)   draw `view` into `root`
//     actions = { refresh(service), change(service, options), disconnect(service),
//                 selectMailService(choice), retryNow?(service),
//                 signInWithPassword?(service, options), discover?(email) -> Promise<Finding> }
//     options = { now?: number  engine time to compute relative times against (default view.now),
//                 pending?: Iterable<string>  services with an action in flight (buttons disabled),
//                 passwordSignInUnavailable?: string  why this host cannot reach a mail server
//                   (the web host: EWS sends no CORS headers); said instead of the forms }
//   Change on an E-Mail Configuration card with an account asks "Which email service do you
//   use?" first, starting from the card's own (`mailService`): keeping it signs in to the
//   card's own tenant, another choice is a switch (`change(service, {mailService})`, or the
//   Exchange credentials or the lookup inside the chooser).
//   A card with `asksPassword` (on-premises Exchange) gets the credentials form on Change
//   (address, login, password, Advanced: EWS URL; an address alone is looked up first and the
//   server shown for confirmation) and a password-only form on Refresh. "I'm not sure" gets
//   a lookup form. A typed password lives only in this page's memory until it is sent, never
//   in an attribute, and is dropped on submit and cancel.
//   mountDashboard(root, auth, options?) -> { render(), showError(err, service?), unmount() }
//     subscribes to `auth`, wires the actions to the engine, shows rejected actions in an
//     aria-live region, and every 30 s asks the engine for a fresh view (its "Sign-in needed
//     in N h" is worded at the engine's now): `auth.refreshView()` where the engine is
//     elsewhere (the side panel's proxy), else `auth.view()`.
//   serviceForMailChoice(section)
//
// View fields drawn (src/view.rs): per section `hint`; per connection `canRetry` ("Try again"
// after the engine paused on repeated transient failures, calls retryNow), `providerCode`
// (small, for support: "AADSTS50173"); top-level `notice` (a banner above the sections,
// e.g. saved sign-ins that could not be read).

const HOUR = 3_600_000;
export const RELATIVE_REFRESH_MS = 30_000;

/** The service whose card a mail-service choice selects: the engine says (`choice.service`). */
export function serviceForMailChoice(section) {
  return section.mailServiceChoices?.find((c) => c.id === section.mailService)?.service ?? null;
}

const PILL_GLYPH = {
  connected: '✓',
  needs_attention: '!',
  retrying: '↻',
  refreshing: '↻',
  signing_in: '…',
  disconnected: '–',
};

const ERROR_TEXT = {
  popup_blocked: 'The sign-in window was blocked. Allow pop-ups for this page and try again.',
  sign_in_cancelled: 'Sign-in was cancelled before it finished.',
  interaction_required: 'Signing in needs you: use Refresh.',
  storage_unavailable: 'Your browser did not let the sidebar save its connections.',
};

function humanize(id) {
  if (!id) return '';
  const s = String(id).replace(/_/g, ' ');
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** Text for a rejected engine/driver call: its message (the engine's words), else a known
 * code of the host's own errors, else the code. */
export function errorText(err) {
  if (err == null) return 'Something went wrong.';
  if (typeof err === 'string') return err;
  if (typeof err.message === 'string' && err.message) return err.message;
  if (err.reasonText) return err.reasonText;
  if (err.code) return ERROR_TEXT[err.code] ?? humanize(err.code) + '.';
  return 'Something went wrong.';
}

// ---- tiny DOM helper ----------------------------------------------------------------------

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'checked' || k === 'value') el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

// ---- per-root UI state (open forms, their fields, focus) ----------------------------------

const uiStates = new WeakMap();
let rootCounter = 0;

function uiState(root) {
  let s = uiStates.get(root);
  if (!s) {
    s = { uid: `sa${++rootCounter}`, forms: {}, last: null, focusAfter: null, focusReturn: null };
    uiStates.set(root, s);
  }
  return s;
}

function formState(ui, service, section) {
  if (!ui.forms[service]) {
    const hasSaved = (section.savedLogins ?? []).length > 0;
    ui.forms[service] = {
      open: false,
      choice: hasSaved ? 'saved:0' : 'new',
      username: '',
      host: section.loginHosts?.[0]?.id ?? 'custom',
      customUrl: '',
      error: null,
    };
  }
  return ui.forms[service];
}

// ---- rendering ----------------------------------------------------------------------------

/**
 * Draw the dashboard for `view` into `root` (replacing its content). Keeps keyboard focus and
 * the state of an open Change form across redraws.
 */
export function renderDashboard(root, view, actions, options = {}) {
  const ui = uiState(root);
  ui.last = { view, actions, options };
  const now = Number.isFinite(options.now) ? options.now : view?.now ?? Date.now();
  const pending = new Set(options.pending ?? []);

  // Remember focus by key so a redraw (every engine update) does not drop it.
  const active = root.ownerDocument.activeElement;
  const focusKey = ui.focusAfter ?? (active && root.contains(active) ? active.getAttribute('data-focus-key') : null);
  const focusSection = active && root.contains(active) ? active.closest('section')?.getAttribute('data-testid') ?? null : null;
  let selection = null;
  if (!ui.focusAfter && active && root.contains(active) && active.tagName === 'INPUT') {
    try {
      selection = [active.selectionStart, active.selectionEnd];
    } catch {
      selection = null; // radios have no selection
    }
  }
  ui.focusAfter = null;

  const rerender = () => {
    const last = uiState(root).last;
    renderDashboard(root, last.view, last.actions, last.options);
  };

  const ctx = { root, ui, now, pending, actions, rerender, passwordSignInUnavailable: options.passwordSignInUnavailable ?? null };
  const notice = typeof view?.notice === 'string' && view.notice
    ? h('div', { class: 'sa-notice', role: 'status', 'data-testid': 'notice' },
        h('span', { class: 'sa-notice__icon', 'aria-hidden': 'true', text: 'i' }),
        h('span', { class: 'sa-notice__text', text: view.notice }))
    : null;
  const board = h(
    'div',
    { class: 'sa-dashboard', 'data-testid': 'dashboard' },
    notice,
    (view?.sections ?? []).map((section) => renderSection(ctx, section)),
  );
  root.replaceChildren(board);

  if (focusKey?.startsWith('form:')) {
    // A Change form just opened: focus its first field (the checked radio of a group).
    const form = root.querySelector(`[data-testid="change-form-${CSS.escape(focusKey.slice(5))}"]`);
    form?.querySelector('input[type=radio]:checked, input:not([type=radio])')?.focus({ preventScroll: true });
  } else if (focusKey) {
    let target = root.querySelector(`[data-focus-key="${CSS.escape(focusKey)}"]`);
    if (!target) {
      // The focused button went away (the engine no longer offers it): keep the user on its card.
      const m = /^(?:retry|refresh|change|disconnect)-(.+)$/.exec(focusKey);
      if (m) target = root.querySelector(`[data-testid="card-${CSS.escape(m[1])}"]`);
      // ...and bring them back to a control once the card settles (see settleFocus).
      if (m) ui.focusReturn = { service: m[1], key: focusKey, section: focusSection };
    }
    target = settleFocus(root, ui, focusKey, target);
    if (target) {
      target.focus({ preventScroll: true });
      if (selection && selection[0] !== null && typeof target.setSelectionRange === 'function') {
        try {
          target.setSelectionRange(selection[0], selection[1]);
        } catch {
          /* type=url/radio inputs do not support selection ranges */
        }
      }
    }
  } else {
    ui.focusReturn = null; // focus is elsewhere: nothing to return
  }
  return board;
}

/**
 * WCAG 2.4.3 Focus Order (and 2.1.1): an action (Connect, Change, Refresh, Disconnect) makes
 * its card busy and the engine withdraws the pressed button, so focus waits on the card
 * (tabindex -1). Once the card is settled, focus moves on to the card's next sensible control:
 * the same button if the card offers it again (Connect becomes Change after a sign-in),
 * else the card's first action (Connect after a Disconnect); if the card itself went away (a
 * mail account other than the chosen service, disconnected), the first action of the card
 * left in its section. Without this, focus fell to the page body.
 */
function settleFocus(root, ui, focusKey, target) {
  const back = ui.focusReturn;
  if (!back) return target;
  const cardKey = `card-${back.service}`;
  const onCard = target?.getAttribute('data-focus-key') === cardKey;
  const cardGone = !target && (focusKey === cardKey || focusKey === back.key);
  if (!onCard && !cardGone) {
    ui.focusReturn = null; // the user moved on (or the button is back)
    return target;
  }
  if (onCard && target.hasAttribute('aria-busy')) return target; // still working: wait on the card
  ui.focusReturn = null;
  if (onCard) {
    return (
      target.querySelector(`[data-focus-key="${CSS.escape(back.key)}"]`) ??
      target.querySelector('.sa-card__actions .sa-btn:not([aria-disabled])') ??
      target
    );
  }
  const section = back.section ? root.querySelector(`[data-testid="${CSS.escape(back.section)}"]`) : null;
  return section?.querySelector('.sa-card__actions .sa-btn:not([aria-disabled])') ?? section?.querySelector('input:checked') ?? null;
}

function renderSection(ctx, section) {
  const headingId = `${ctx.ui.uid}-h-${section.id}`;
  let connections = section.connections ?? [];
  const parts = [h('h2', { class: 'sa-section__title', id: headingId, text: section.title })];

  if (Array.isArray(section.mailServiceChoices)) {
    ctx.mailChoices = section.mailServiceChoices; // for a lookup's finding of another service
    parts.push(renderMailChooser(ctx, section));
    // The engine decides which cards the section holds (the chosen service first, then
    // any other mail account still signed in); the page renders them as they come.
    const wanted = serviceForMailChoice(section);
    if (!wanted && !section.hint) {
      parts.push(
        h('p', {
          class: 'sa-hint',
          'data-testid': 'mail-service-hint',
          text:
            section.mailService === 'not_sure'
              ? 'Not sure? Microsoft 365 and Outlook.com accounts sign in with Microsoft, Gmail with Google, and an Exchange server at work with your mailbox password. Connect the one you use.'
              : 'Choose your mail service.',
        }),
      );
    }
  }

  if (typeof section.hint === 'string' && section.hint) {
    // The engine's explanation for this section ("Not sure?", "not configured").
    parts.push(h('p', { class: 'sa-hint', 'data-testid': `hint-${section.id}`, text: section.hint }));
  }
  if (section.mailService === 'not_sure' && typeof ctx.actions.discover === 'function') {
    parts.push(renderLookup(ctx, section));
  }

  parts.push(h('div', { class: 'sa-cards' }, connections.map((c) => renderCard(ctx, section, c))));
  return h('section', { class: `sa-section sa-section--${section.id}`, 'aria-labelledby': headingId, 'data-testid': `section-${section.id}` }, parts);
}

function renderMailChooser(ctx, section) {
  const name = `${ctx.ui.uid}-mail-service`;
  return h(
    'fieldset',
    { class: 'sa-choice', 'data-testid': 'mail-service' },
    h('legend', { class: 'sa-choice__legend', text: 'Mail service' }),
    h(
      'div',
      { class: 'sa-choice__options' },
      section.mailServiceChoices.map((choice) =>
        h(
          'label',
          { class: 'sa-choice__option' },
          h('input', {
            type: 'radio',
            name,
            value: choice.id,
            checked: choice.id === section.mailService,
            'data-testid': `mail-service-${choice.id}`,
            'data-focus-key': `mail-service-${choice.id}`,
            onchange: (e) => {
              if (e.target.checked) ctx.actions.selectMailService(choice.id);
            },
          }),
          h('span', { class: 'sa-choice__label', text: choice.label }),
        ),
      ),
    ),
  );
}

function renderCard(ctx, section, c) {
  const s = c.service;
  const busy = !!c.busy || ctx.pending.has(s);
  const titleId = `${ctx.ui.uid}-card-${s}`;
  const statusText = c.statusText;
  const hasForm = Array.isArray(section.loginHosts);
  const form = hasForm ? formState(ctx.ui, s, section) : null;
  const pw = c.asksPassword && typeof ctx.actions.signInWithPassword === 'function' ? passwordForm(ctx.ui, s) : null;
  const openPassword = (mode) => {
    if (pw.open && pw.mode === mode) {
      closePasswordForm(pw);
    } else {
      Object.assign(pw, { open: true, mode, error: null, password: '' });
      ctx.ui.focusAfter = `form:${s}`;
    }
    ctx.rerender();
  };
  const isNew = c.status === 'disconnected' && !c.account;
  // E-Mail Configuration: Change on a card with an account first asks which email service
  // the user has (issue 10; the help page: "click Change ..., select Microsoft Exchange,
  // Outlook.com or unsure and enter the new mailbox login credentials").
  const chooser = Array.isArray(section.mailServiceChoices) && c.account ? mailChange(ctx.ui, s) : null;
  const showDisconnect = c.status !== 'disconnected' && c.status !== 'signing_in';

  const pill = h(
    'span',
    { class: `sa-pill sa-pill--${c.status}`, 'data-testid': `status-${s}`, 'data-status': c.status },
    h('span', { class: 'sa-pill__glyph', 'aria-hidden': 'true', text: PILL_GLYPH[c.status] ?? '•' }),
    h('span', { class: 'sa-pill__text', text: statusText }),
  );

  const details = [];
  if (c.reason || c.reasonText) {
    details.push(
      h('p', {
        class: `sa-card__reason sa-card__reason--${c.action ?? 'none'}`,
        'data-testid': `reason-${s}`,
        'data-reason': c.reason ?? '',
        text: c.reasonText ?? '',
      }),
    );
  }
  if (c.providerCode) {
    // For support: the provider's own code (AADSTS50173, invalid_grant, INVALID_SESSION_ID).
    details.push(
      h('p', { class: 'sa-card__code', 'data-testid': `provider-code-${s}` },
        h('span', { class: 'sa-card__code-label', text: 'Code for support: ' }),
        h('code', { text: c.providerCode })),
    );
  }
  if (c.advice) {
    details.push(h('p', { class: 'sa-card__advice', 'data-testid': `advice-${s}`, text: c.advice }));
  }
  if (c.signInNeededText) {
    const soon = Number.isFinite(c.signInNeededAt) && c.signInNeededAt - ctx.now < 4 * HOUR;
    details.push(
      h('p', {
        class: `sa-card__deadline${soon ? ' sa-card__deadline--soon' : ''}`,
        'data-testid': `signin-needed-${s}`,
        text: c.signInNeededText,
      }),
    );
  }
  if (c.nextRetryText) {
    details.push(h('p', { class: 'sa-card__retry', 'data-testid': `next-retry-${s}`, text: c.nextRetryText }));
  }

  const button = (kind, label, ariaLabel, primary, onActivate) =>
    h('button', {
      type: 'button',
      class: `sa-btn${primary ? ' sa-btn--primary' : ''}${kind === 'disconnect' ? ' sa-btn--quiet' : ''}`,
      'data-testid': `${kind}-${s}`,
      'data-focus-key': `${kind}-${s}`,
      'aria-label': ariaLabel,
      // aria-disabled rather than `disabled`: a busy button keeps keyboard focus, and the
      // engine update that ends `busy` finds the user where they were.
      'aria-disabled': busy ? 'true' : null,
      'aria-expanded':
        kind === 'change' && chooser
          ? String(chooser.open)
          : kind === 'change' && hasForm
            ? String(!!form.open)
            : pw && (kind === 'change' || kind === 'refresh')
              ? String(pw.open && pw.mode === kind)
              : null,
      onclick: (e) => {
        if (busy) {
          e.preventDefault();
          return;
        }
        onActivate();
      },
      text: label,
    });

  const buttons = [];
  if (c.canRetry && typeof ctx.actions.retryNow === 'function') {
    // Repeated transient failures (a long backoff): the user may try again now.
    // WCAG 2.5.3 Label in Name: the name starts with the visible words ("click Try again").
    buttons.push(button('retry', 'Try again', `Try again: ${c.title}`, true, () => ctx.actions.retryNow(s)));
  }
  if (c.canRefresh) {
    buttons.push(
      button('refresh', 'Refresh', `Refresh ${c.title}`, c.action === 'refresh' && !c.canRetry, () =>
        pw ? openPassword('refresh') : ctx.actions.refresh(s),
      ),
    );
  }
  if (c.canChange) {
    const label = isNew ? 'Connect' : 'Change';
    const primary = isNew || c.action === 'change';
    buttons.push(
      button('change', label, `${label} ${c.title}${isNew ? '' : ' account'}`, primary, () => {
        if (chooser) {
          if (chooser.open) {
            closeMailChange(ctx.ui, chooser);
          } else {
            if (pw) closePasswordForm(pw); // a Refresh password form gives way
            Object.assign(chooser, { open: true, choice: c.mailService ?? section.mailService });
            ctx.ui.focusAfter = `change-service-${s}-${chooser.choice}`;
          }
          ctx.rerender();
        } else if (pw) {
          openPassword('change');
        } else if (hasForm) {
          if (form.open) {
            form.open = false;
            form.error = null;
          } else {
            // A fresh form on every opening, so that its default choice reflects the saved
            // logins of the current view (the engine adds one after each sign-in).
            delete ctx.ui.forms[s];
            formState(ctx.ui, s, section).open = true;
            ctx.ui.focusAfter = `form:${s}`;
          }
          ctx.rerender();
        } else {
          ctx.actions.change(s, {});
        }
      }),
    );
  }
  if (showDisconnect) {
    buttons.push(button('disconnect', 'Disconnect', `Disconnect ${c.title}`, false, () => ctx.actions.disconnect(s)));
  }

  const card = h(
    'article',
    {
      class: `sa-card sa-card--${c.status}`,
      'data-testid': `card-${s}`,
      'data-service': s,
      // Focus may wait here while the card is busy (settleFocus): found again on redraws.
      'data-focus-key': `card-${s}`,
      'aria-labelledby': titleId,
      'aria-busy': busy ? 'true' : null,
      tabindex: '-1',
    },
    h(
      'div',
      { class: 'sa-card__head' },
      h('span', { class: `sa-logo sa-logo--${s}`, 'aria-hidden': 'true', text: (c.title || s).charAt(0).toUpperCase() }),
      h(
        'div',
        { class: 'sa-card__id' },
        h('h3', { class: 'sa-card__title', id: titleId, text: c.title }),
        h('p', {
          class: `sa-card__account${c.account ? '' : ' sa-card__account--none'}`,
          'data-testid': `account-${s}`,
          text: c.account || 'No account connected',
        }),
      ),
      pill,
    ),
    details.length ? h('div', { class: 'sa-card__details' }, details) : null,
    buttons.length ? h('div', { class: 'sa-card__actions' }, buttons) : null,
    hasForm && form.open && c.canChange && !busy ? renderChangeForm(ctx, section, c, form) : null,
    chooser?.open && !busy ? renderMailChange(ctx, section, c, chooser) : null,
    pw && pw.open && !chooser?.open && !busy ? renderPasswordForm(ctx, c, pw) : null,
  );
  return card;
}

function hostLabel(section, url) {
  const known = (section.loginHosts ?? []).find((h) => h.url === url);
  if (known) return known.label;
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

function savedHostText(section, url) {
  const label = hostLabel(section, url);
  let host = url;
  try {
    host = new URL(url).host;
  } catch {
    /* keep as given */
  }
  return label === host ? host : `${label} · ${host}`;
}

function renderChangeForm(ctx, section, c, form) {
  const s = c.service;
  const id = (x) => `${ctx.ui.uid}-${s}-${x}`;
  const saved = section.savedLogins ?? [];
  const hosts = section.loginHosts ?? [];
  const close = (focusChange) => {
    form.open = false;
    form.error = null;
    if (focusChange) ctx.ui.focusAfter = `change-${s}`;
    ctx.rerender();
  };

  const choiceRadio = (value, label, sub) => {
    return h(
      'label',
      { class: 'sa-option' },
      h('input', {
        type: 'radio',
        name: id('choice'),
        value,
        checked: form.choice === value,
        'data-testid': `change-choice-${s}-${value}`,
        'data-focus-key': `change-choice-${s}-${value}`,
        onchange: () => {
          form.choice = value;
          form.error = null;
          ctx.ui.focusAfter = `change-choice-${s}-${value}`;
          ctx.rerender();
        },
      }),
      h('span', { class: 'sa-option__text' }, h('span', { class: 'sa-option__main', text: label }), sub ? h('span', { class: 'sa-option__sub', text: sub }) : null),
    );
  };

  const parts = [];
  if (saved.length) {
    parts.push(
      h(
        'fieldset',
        { class: 'sa-fieldset' },
        h('legend', { text: 'Sign in as' }),
        saved.map((l, i) => choiceRadio(`saved:${i}`, l.username, savedHostText(section, l.loginHost))),
        choiceRadio('new', 'Another username', null),
      ),
    );
  }
  if (form.choice === 'new') {
    parts.push(
      h(
        'div',
        { class: 'sa-field' },
        h('label', { for: id('username'), text: 'Username' }),
        h('input', {
          id: id('username'),
          type: 'text',
          autocomplete: 'username',
          inputmode: 'email',
          spellcheck: 'false',
          placeholder: 'name@company.com',
          value: form.username,
          'data-testid': `change-username-${s}`,
          'data-focus-key': `change-username-${s}`,
          oninput: (e) => {
            form.username = e.target.value;
          },
        }),
      ),
    );
    const hostChoices = [...hosts.map((x) => ({ id: x.id, label: x.label, sub: hostLabel({}, x.url) })), { id: 'custom', label: 'My Domain', sub: 'your company’s own address' }];
    parts.push(
      h(
        'fieldset',
        { class: 'sa-fieldset sa-fieldset--inline' },
        h('legend', { text: 'Login host' }),
        hostChoices.map((x) =>
          h(
            'label',
            { class: 'sa-option' },
            h('input', {
              type: 'radio',
              name: id('host'),
              value: x.id,
              checked: form.host === x.id,
              'data-testid': `change-host-${s}-${x.id}`,
              'data-focus-key': `change-host-${s}-${x.id}`,
              onchange: () => {
                form.host = x.id;
                form.error = null;
                ctx.ui.focusAfter = `change-host-${s}-${x.id}`;
                ctx.rerender();
              },
            }),
            h('span', { class: 'sa-option__text' }, h('span', { class: 'sa-option__main', text: x.label }), h('span', { class: 'sa-option__sub', text: x.sub })),
          ),
        ),
      ),
    );
    if (form.host === 'custom') {
      parts.push(
        h(
          'div',
          { class: 'sa-field' },
          h('label', { for: id('custom'), text: 'My Domain URL' }),
          h('input', {
            id: id('custom'),
            type: 'url',
            inputmode: 'url',
            spellcheck: 'false',
            placeholder: section.customLoginHostExample ?? 'https://',
            value: form.customUrl,
            'aria-invalid': form.error ? 'true' : null,
            'aria-describedby': form.error ? id('error') : null,
            'data-testid': `change-custom-host-${s}`,
            'data-focus-key': `change-custom-host-${s}`,
            oninput: (e) => {
              form.customUrl = e.target.value;
            },
          }),
        ),
      );
    }
  }
  if (form.error) parts.push(h('p', { class: 'sa-form-error', id: id('error'), role: 'alert', 'data-testid': `change-error-${s}`, text: form.error }));
  parts.push(
    h(
      'div',
      { class: 'sa-card__actions' },
      h('button', { type: 'submit', class: 'sa-btn sa-btn--primary', 'data-testid': `change-submit-${s}`, 'data-focus-key': `change-submit-${s}`, text: 'Sign in' }),
      h('button', { type: 'button', class: 'sa-btn', 'data-testid': `change-cancel-${s}`, 'data-focus-key': `change-cancel-${s}`, text: 'Cancel', onclick: () => close(true) }),
    ),
  );

  const submit = (e) => {
    e.preventDefault();
    let options;
    if (form.choice.startsWith('saved:')) {
      const l = saved[Number(form.choice.slice(6))];
      if (!l) {
        form.error = 'Pick a saved login or enter a username.';
        ctx.rerender();
        return;
      }
      options = { loginHint: l.username, loginHost: l.loginHost };
    } else {
      let loginHost;
      if (form.host === 'custom') {
        let u = null;
        try {
          u = new URL(form.customUrl.trim());
        } catch {
          u = null;
        }
        if (!u || u.protocol !== 'https:' || !u.hostname) {
          const example = section.customLoginHostExample;
          form.error = `Enter your My Domain address starting with https://${example ? `, for example ${example}` : ''}`;
          ctx.ui.focusAfter = `change-custom-host-${s}`;
          ctx.rerender();
          return;
        }
        loginHost = u.origin;
      } else {
        loginHost = hosts.find((x) => x.id === form.host)?.url;
      }
      options = {};
      const hint = form.username.trim();
      if (hint) options.loginHint = hint;
      if (loginHost) options.loginHost = loginHost;
    }
    // The form closes while the sign-in runs. What the user typed is kept until the
    // sign-in succeeds: a cancelled or failed one opens the form again as it was (issue 11,
    // item 9); a success starts the next Change from a fresh form.
    form.open = false;
    form.error = null;
    ctx.ui.focusAfter = `change-${s}`;
    ctx.rerender();
    Promise.resolve(ctx.actions.change(s, options)).then((signedIn) => {
      if (ctx.ui.forms[s] !== form || form.open) return; // reopened or replaced meanwhile
      if (signedIn === false) {
        form.open = true;
        ctx.ui.focusAfter = `form:${s}`;
      } else {
        delete ctx.ui.forms[s];
      }
      ctx.rerender();
    });
  };

  return h(
    'form',
    {
      class: 'sa-change',
      'data-testid': `change-form-${s}`,
      'aria-label': `Change ${c.title} login`,
      novalidate: true,
      onsubmit: submit,
      onkeydown: (e) => {
        if (e.key === 'Escape') {
          e.preventDefault();
          close(true);
        }
      },
    },
    parts,
  );
}

// ---- on-premises Exchange: credentials and "I'm not sure" -----------------------------------

function passwordForm(ui, service) {
  ui.passwordForms ??= {};
  ui.passwordForms[service] ??= { open: false, mode: 'change', email: '', login: '', ewsUrl: '', found: null, finding: null, error: null, password: '', busy: false };
  return ui.passwordForms[service];
}

/** Closes a credentials form; the typed password is dropped with it. */
function closePasswordForm(pw) {
  Object.assign(pw, { open: false, error: null, password: '', finding: null, busy: false });
}

function field(id, label, input, help) {
  return h('div', { class: 'sa-field' }, h('label', { for: id, text: label }), input, help ?? null);
}

function hostOf(url) {
  try {
    return new URL(url).host;
  } catch {
    return null;
  }
}

function unavailableNote(ctx, testId) {
  return h('p', { class: 'sa-hint', role: 'note', 'data-testid': testId, text: ctx.passwordSignInUnavailable });
}

/** What a lookup found, said in the engine's words, with the ways on. */
function renderFinding(ctx, finding, testId, onConfirm) {
  const parts = [h('p', { class: 'sa-finding__summary', role: 'status', 'data-testid': `${testId}-summary`, text: finding.summary })];
  if (onConfirm) {
    parts.push(h('button', { type: 'button', class: 'sa-btn sa-btn--primary', 'data-testid': `${testId}-confirm`, 'data-focus-key': `${testId}-confirm`, text: onConfirm.label, onclick: onConfirm.run }));
  }
  return h('div', { class: 'sa-finding', 'data-testid': testId, 'data-mail-service': finding.mailService }, parts);
}

function renderPasswordForm(ctx, c, pw, owner = null) {
  const s = c.service;
  const id = (x) => `${ctx.ui.uid}-${s}-pw-${x}`;
  const t = (x) => `password-${x}-${s}`;
  // `owner`: the Change chooser this form sits in (on another card, perhaps): it closes with
  // the form and takes the focus back to its own card's Change.
  const close = () => {
    closePasswordForm(pw);
    if (owner) owner.close();
    else ctx.ui.focusAfter = pw.mode === 'refresh' ? `refresh-${s}` : `change-${s}`;
    ctx.rerender();
  };
  const refresh = pw.mode === 'refresh';
  const parts = [];
  if (ctx.passwordSignInUnavailable) {
    parts.push(unavailableNote(ctx, t('unavailable')));
  } else {
    const input = (name, attrs) =>
      h('input', {
        id: id(name),
        'data-testid': t(name),
        'data-focus-key': t(name),
        spellcheck: 'false',
        oninput: (e) => {
          pw[name] = e.target.value;
        },
        ...attrs,
      });
    if (refresh) {
      parts.push(h('p', { class: 'sa-hint', text: `Enter the new password for ${c.account ?? c.title}.` }));
    } else {
      parts.push(field(id('email'), 'Email address', input('email', { type: 'email', autocomplete: 'email', value: pw.email })));
      parts.push(field(id('login'), 'Login', input('login', { type: 'text', autocomplete: 'username', placeholder: 'name@company.com or DOMAIN\\user', value: pw.login })));
    }
    // The password is set as a property after the element is made, never as an attribute.
    const password = input('password', { type: 'password', autocomplete: 'current-password' });
    password.value = pw.password;
    parts.push(field(id('password'), 'Password', password));
    if (!refresh) {
      const server = pw.found ? h('p', { class: 'sa-hint', 'data-testid': t('server'), text: `Server: ${pw.found.host} (you confirmed it)` }) : null;
      parts.push(server);
      const details = h(
        'details',
        { class: 'sa-advanced', open: pw.ewsUrl || c.loginHost ? true : null },
        h('summary', { text: 'Advanced' }),
        field(
          id('ewsUrl'),
          'EWS URL',
          input('ewsUrl', { type: 'url', inputmode: 'url', placeholder: 'https://mail.example.com/EWS/Exchange.asmx', value: pw.ewsUrl || c.loginHost || '', 'aria-describedby': id('ewsHelp') }),
          h('p', { class: 'sa-option__sub', id: id('ewsHelp'), text: 'Only if your administrator gave you one; otherwise the server is found from your address.' }),
        ),
      );
      parts.push(details);
      if (pw.finding) {
        const f = pw.finding;
        // "Microsoft Exchange" that is in fact Exchange Online (or Gmail): the user is told
        // and goes on to that sign-in with the address filled in (issue 10).
        const elsewhere = f.mailService !== 'exchange' ? (ctx.mailChoices ?? []).find((x) => x.id === f.mailService && x.service) : null;
        parts.push(
          renderFinding(ctx, f, t('finding'), f.host && f.mailService === 'exchange'
            ? {
                label: `Yes, use ${f.host}`,
                run: () => {
                  pw.found = { host: f.host, autodiscoverUrl: f.autodiscoverUrl };
                  if (f.ewsUrl) pw.ewsUrl = f.ewsUrl;
                  pw.finding = null;
                  ctx.ui.focusAfter = t('submit');
                  ctx.rerender();
                },
              }
            : elsewhere
              ? {
                  label: `Continue with ${elsewhere.label}`,
                  run: () => {
                    closePasswordForm(pw);
                    if (owner) owner.close();
                    else ctx.ui.focusAfter = `change-${s}`;
                    ctx.rerender();
                    ctx.actions.change(elsewhere.service, { mailService: elsewhere.id, loginHint: f.email });
                  },
                }
              : null),
        );
      }
    }
  }
  if (pw.error) parts.push(h('p', { class: 'sa-form-error', id: id('error'), role: 'alert', 'data-testid': t('error'), text: pw.error }));
  parts.push(
    h(
      'div',
      { class: 'sa-card__actions' },
      ctx.passwordSignInUnavailable
        ? null
        : h('button', { type: 'submit', class: 'sa-btn sa-btn--primary', 'data-testid': t('submit'), 'data-focus-key': t('submit'), 'aria-disabled': pw.busy ? 'true' : null, text: refresh || pw.found || pw.ewsUrl || c.loginHost ? 'Sign in' : 'Continue' }),
      h('button', { type: 'button', class: 'sa-btn', 'data-testid': t('cancel'), 'data-focus-key': t('cancel'), text: 'Cancel', onclick: close }),
    ),
  );

  const fail = (message, focus) => {
    pw.error = message;
    ctx.ui.focusAfter = focus;
    ctx.rerender();
  };
  const submit = (e) => {
    e.preventDefault();
    if (pw.busy || ctx.passwordSignInUnavailable) return;
    const password = pw.password;
    if (!password) return fail('Enter your password.', t('password'));
    if (refresh) {
      closePasswordForm(pw);
      ctx.ui.focusAfter = `refresh-${s}`;
      ctx.rerender();
      ctx.actions.signInWithPassword(s, { password });
      return;
    }
    const email = pw.email.trim();
    const login = pw.login.trim() || email;
    const ewsUrl = (pw.ewsUrl || c.loginHost || '').trim();
    if (!login) return fail('Enter your email address or login.', t('email'));
    let options = null;
    if (ewsUrl) {
      let u = null;
      try {
        u = new URL(ewsUrl);
      } catch {
        u = null;
      }
      if (!u || u.protocol !== 'https:') return fail('The EWS URL must start with https:// (a password is never sent without encryption).', t('ewsUrl'));
      options = { login, password, ewsUrl: u.href, ...(email ? { email } : {}) };
    } else if (pw.found) {
      options = { login, password, email: email || login, autodiscoverUrl: pw.found.autodiscoverUrl, confirmedHost: pw.found.host };
    }
    if (options) {
      closePasswordForm(pw);
      pw.found = null;
      ctx.ui.focusAfter = `change-${s}`;
      owner?.close();
      ctx.rerender();
      // A failed sign-in keeps what was typed (but the password) for the next try; a
      // success starts the next Change fresh: an old EWS URL must not carry another
      // address's password to the old server.
      Promise.resolve(ctx.actions.signInWithPassword(s, options)).then((signedIn) => {
        if (signedIn !== false && !pw.open) Object.assign(pw, { email: '', login: '', ewsUrl: '' });
      });
      return;
    }
    if (!email || typeof ctx.actions.discover !== 'function') return fail('Enter your email address, or the EWS URL under Advanced.', t('email'));
    // Nothing is sent with the password before the user has seen and confirmed the server.
    pw.busy = true;
    pw.error = null;
    ctx.rerender();
    Promise.resolve(ctx.actions.discover(email)).then(
      (finding) => {
        pw.busy = false;
        pw.finding = finding;
        ctx.ui.focusAfter = finding.host ? t('finding-confirm') : t('ewsUrl');
        ctx.rerender();
      },
      (err) => {
        pw.busy = false;
        fail(errorText(err), t('email'));
      },
    );
  };
  return h(
    'form',
    {
      class: 'sa-change',
      'data-testid': `change-form-${s}`,
      'aria-label': refresh ? `Refresh ${c.title} password` : `Change ${c.title} login`,
      novalidate: true,
      onsubmit: submit,
      onkeydown: (e) => {
        if (e.key === 'Escape') {
          e.preventDefault();
          close();
        }
      },
    },
    parts,
  );
}

/** "I'm not sure": the address is looked up; the user confirms what was found. `owner`:
 * the Change chooser it sits in, which takes an Exchange finding into its credentials form. */
function renderLookup(ctx, section, owner = null) {
  ctx.ui.lookup ??= { email: '', finding: null, error: null, busy: false };
  const l = ctx.ui.lookup;
  const id = `${ctx.ui.uid}-lookup-email`;
  const parts = [];
  if (ctx.passwordSignInUnavailable) {
    parts.push(unavailableNote(ctx, 'lookup-unavailable'));
  }
  parts.push(
    field(id, 'Your email address', h('input', { id, type: 'email', autocomplete: 'email', spellcheck: 'false', value: l.email, 'data-testid': 'lookup-email', 'data-focus-key': 'lookup-email', oninput: (e) => {
      l.email = e.target.value;
    } })),
  );
  if (l.error) parts.push(h('p', { class: 'sa-form-error', role: 'alert', 'data-testid': 'lookup-error', text: l.error }));
  if (l.finding) {
    const f = l.finding;
    const choice = (section.mailServiceChoices ?? []).find((x) => x.id === f.mailService);
    const go = choice?.service
      ? {
          label: f.mailService === 'exchange' && f.host ? `Yes, use ${f.host}` : `Continue with ${choice.label}`,
          run: () => {
            l.finding = null;
            if (f.mailService === 'exchange') {
              // The credentials form, with the server the user confirmed: in the chooser that
              // asked, else on the Exchange card.
              const pw = passwordForm(ctx.ui, choice.service);
              Object.assign(pw, { open: !owner, mode: 'change', email: f.email, login: f.email, ewsUrl: f.ewsUrl ?? '', found: f.autodiscoverUrl ? { host: f.host, autodiscoverUrl: f.autodiscoverUrl } : null, finding: null, error: null, password: '' });
              if (owner) {
                owner.choose('exchange', f.autodiscoverUrl ? `password-password-${choice.service}` : `password-ewsUrl-${choice.service}`);
              } else {
                ctx.ui.focusAfter = `form:${choice.service}`;
                ctx.actions.selectMailService(f.mailService);
              }
            } else {
              owner?.close();
              ctx.actions.change(choice.service, { mailService: f.mailService, loginHint: f.email });
            }
          },
        }
      : null;
    parts.push(renderFinding(ctx, f, 'lookup-finding', go));
  }
  parts.push(h('div', { class: 'sa-card__actions' }, h('button', { type: 'submit', class: 'sa-btn sa-btn--primary', 'data-testid': 'lookup-submit', 'aria-disabled': l.busy ? 'true' : null, text: 'Look up' })));
  const submit = (e) => {
    e.preventDefault();
    if (l.busy) return;
    const email = l.email.trim();
    if (!email) {
      l.error = 'Enter your email address.';
      ctx.rerender();
      return;
    }
    Object.assign(l, { busy: true, error: null, finding: null });
    ctx.rerender();
    Promise.resolve(ctx.actions.discover(email)).then(
      (finding) => {
        Object.assign(l, { busy: false, finding });
        ctx.ui.focusAfter = 'lookup-finding-confirm';
        ctx.rerender();
      },
      (err) => {
        Object.assign(l, { busy: false, error: errorText(err) });
        ctx.rerender();
      },
    );
  };
  return h('form', { class: 'sa-change sa-lookup', 'data-testid': 'lookup-form', 'aria-label': 'Find my mail service', novalidate: true, onsubmit: submit }, parts);
}

// ---- Change on a mail card: which email service? -------------------------------------------

function mailChange(ui, service) {
  ui.mailChanges ??= {};
  ui.mailChanges[service] ??= { open: false, choice: null };
  return ui.mailChanges[service];
}

/** Closes a chooser, and the credentials it may hold (the typed password goes with it). */
function closeMailChange(ui, chooser) {
  chooser.open = false;
  const pw = ui.passwordForms?.exchange;
  if (pw && !pw.open) closePasswordForm(pw);
}

/**
 * Change on an E-Mail Configuration card: "Which email service do you use?", starting from
 * the card's own (`c.mailService`, what its account is, whatever was picked since). Staying
 * with it signs in again to the card's own tenant; another choice is a switch of service:
 * Microsoft 365, Outlook.com and Gmail sign in with that choice's tenant, Exchange asks for
 * the mailbox login here, "I'm not sure" looks the address up. The engine ends the old mail
 * connection only once the new one is stored (`connect` with `mailService`,
 * `signInWithPassword`).
 */
function renderMailChange(ctx, section, c, chooser) {
  const s = c.service;
  const id = (x) => `${ctx.ui.uid}-${s}-mc-${x}`;
  const choices = section.mailServiceChoices ?? [];
  const owner = {
    close: () => {
      closeMailChange(ctx.ui, chooser);
      ctx.ui.focusAfter = `change-${s}`;
    },
    choose: (choice, focus) => {
      chooser.choice = choice;
      ctx.ui.focusAfter = focus ?? `change-service-${s}-${choice}`;
      ctx.rerender();
    },
  };
  const cancel = () => {
    owner.close();
    ctx.rerender();
  };
  const onKey = (e) => {
    if (e.key === 'Escape') {
      e.preventDefault();
      cancel();
    }
  };
  const picker = h(
    'fieldset',
    { class: 'sa-fieldset' },
    h('legend', { text: 'Which email service do you use?' }),
    choices.map((choice) =>
      h(
        'label',
        { class: 'sa-option' },
        h('input', {
          type: 'radio',
          name: id('service'),
          value: choice.id,
          checked: chooser.choice === choice.id,
          'data-testid': `change-service-${s}-${choice.id}`,
          'data-focus-key': `change-service-${s}-${choice.id}`,
          onchange: () => owner.choose(choice.id),
        }),
        h('span', { class: 'sa-option__text' },
          h('span', { class: 'sa-option__main', text: choice.label }),
          choice.id === c.mailService ? h('span', { class: 'sa-option__sub', text: 'your current account' }) : null),
      ),
    ),
  );

  const picked = choices.find((x) => x.id === chooser.choice);
  let next;
  if (chooser.choice === 'not_sure' && typeof ctx.actions.discover === 'function') {
    next = renderLookup(ctx, section, owner);
  } else if (picked?.service && chooser.choice === 'exchange' && typeof ctx.actions.signInWithPassword === 'function') {
    // The credentials form of the Exchange service, here on this card (the card's own when
    // it is the Exchange card).
    const exchange = s === picked.service ? c : { service: picked.service, title: picked.label, account: null, loginHost: null };
    const pw = passwordForm(ctx.ui, picked.service);
    if (pw.mode !== 'change') Object.assign(pw, { mode: 'change', error: null, password: '' });
    next = renderPasswordForm(ctx, exchange, pw, owner);
  } else {
    const same = chooser.choice === c.mailService;
    const submit = (e) => {
      e.preventDefault();
      if (!picked?.service) return;
      owner.close();
      ctx.rerender();
      // The card's own service: its own tenant (a Microsoft 365 card never goes to the
      // consumers tenant); another: that choice, and a switch.
      const done = same ? ctx.actions.change(s, {}) : ctx.actions.change(picked.service, { mailService: picked.id });
      Promise.resolve(done).then((signedIn) => {
        if (signedIn !== false || chooser.open) return;
        // Cancelled or failed: the chooser again, as it was (issue 11, item 9).
        Object.assign(chooser, { open: true, choice: picked.id });
        ctx.ui.focusAfter = `change-service-submit-${s}`;
        ctx.rerender();
      });
    };
    next = h(
      'form',
      { class: 'sa-change__next', novalidate: true, onsubmit: submit },
      picked?.service || chooser.choice === 'not_sure'
        ? null
        : h('p', { class: 'sa-hint', text: 'Choose your mail service.' }),
      h(
        'div',
        { class: 'sa-card__actions' },
        h('button', {
          type: 'submit',
          class: 'sa-btn sa-btn--primary',
          'data-testid': `change-service-submit-${s}`,
          'data-focus-key': `change-service-submit-${s}`,
          'aria-disabled': picked?.service ? null : 'true',
          text: picked?.service ? `Sign in with ${picked.label}` : 'Sign in',
        }),
        h('button', { type: 'button', class: 'sa-btn', 'data-testid': `change-service-cancel-${s}`, 'data-focus-key': `change-service-cancel-${s}`, text: 'Cancel', onclick: cancel }),
      ),
    );
  }
  return h(
    'div',
    { class: 'sa-change', role: 'group', 'aria-label': `Change ${c.title} account`, 'data-testid': `change-service-${s}`, onkeydown: onKey },
    picker,
    next,
  );
}

// ---- mounting on a live engine ------------------------------------------------------------

function serviceTitle(view, service) {
  for (const section of view?.sections ?? []) {
    for (const c of section.connections ?? []) if (c.service === service) return c.title;
  }
  return null;
}

/**
 * Show the dashboard for `auth` in `root` and keep it current.
 * @param {HTMLElement} root
 * @param {object} auth   a SidebarAuth (engine) instance
 * @param {{refreshMs?: number}} [options]
 */
export function mountDashboard(root, auth, options = {}) {
  const doc = root.ownerDocument;
  const refreshMs = options.refreshMs ?? RELATIVE_REFRESH_MS;
  const content = h('div', { class: 'sa-dashboard-root' });
  const liveText = h('div', { class: 'sa-toast__text', 'aria-live': 'assertive', 'aria-atomic': 'true', 'data-testid': 'errors' });
  const dismiss = h('button', {
    type: 'button',
    class: 'sa-btn sa-btn--quiet sa-toast__close',
    'data-testid': 'errors-dismiss',
    'aria-label': 'Dismiss message',
    text: '×',
    onclick: () => clearError(),
  });
  const toast = h('div', { class: 'sa-toast', 'data-empty': 'true' }, h('span', { class: 'sa-toast__icon', 'aria-hidden': 'true', text: '!' }), liveText, dismiss);
  // WCAG 4.1.3 Status Messages: a card that settles in another state (see announceStatus)
  // is said politely; errors keep the assertive toast above.
  const statusLive = h('div', { class: 'sa-visually-hidden', role: 'status', 'data-testid': 'status-messages' });
  root.replaceChildren(content, statusLive, toast);

  let view = auth.view();
  let receivedAt = performance.now();
  const pending = new Set();

  const engineNow = () => (view?.now ?? Date.now()) + (performance.now() - receivedAt);

  function clearError() {
    liveText.textContent = '';
    toast.setAttribute('data-empty', 'true');
    reserveToastSpace();
  }

  function showError(err, service) {
    const title = service ? serviceTitle(view, service) : null;
    const text = errorText(err);
    liveText.textContent = title ? `${title}: ${text}` : text;
    toast.setAttribute('data-empty', 'false');
    toast.setAttribute('data-code', err?.code ?? '');
    reserveToastSpace();
    keepClearOfToast(doc.activeElement);
  }

  // WCAG 2.4.11 Focus Not Obscured: the toast is fixed to the bottom of the window, so the
  // page reserves its height below the content and as scroll padding (the browser then
  // scrolls a focused control above it), and a control focused under it is scrolled clear.
  function reserveToastSpace() {
    const shown = toast.getAttribute('data-empty') === 'false';
    const space = shown ? `${Math.ceil(toast.getBoundingClientRect().height) + 24}px` : '';
    if (space) doc.documentElement.style.setProperty('--sa-toast-space', space);
    else doc.documentElement.style.removeProperty('--sa-toast-space');
  }

  function keepClearOfToast(el) {
    if (!el || el === doc.body || toast.contains(el) || toast.getAttribute('data-empty') !== 'false') return;
    const t = toast.getBoundingClientRect();
    const r = el.getBoundingClientRect();
    const overlaps = r.bottom > t.top && r.top < t.bottom && r.right > t.left && r.left < t.right;
    if (overlaps) doc.defaultView?.scrollBy(0, r.bottom - t.top + 8);
  }

  const onFocusIn = (e) => keepClearOfToast(e.target);
  const onResize = () => reserveToastSpace();
  doc.addEventListener('focusin', onFocusIn);
  doc.defaultView?.addEventListener('resize', onResize);

  // WCAG 4.1.3 Status Messages: say it when a card settles in another state, whether a
  // background refresh changed it ("Sign-in needed") or the user's Connect, Change, Refresh
  // or Disconnect did ("Connected", "Not connected"); a finished user action is confirmed
  // even when the state is unchanged (Refresh of a connected card). In-between states
  // (signing in, refreshing) and a countdown's new text are not news.
  const settled = new Map(); // service -> "status account" last seen settled
  const titles = new Map(); // service -> title, for a card that went away
  const awaitingOutcome = new Set(); // services whose user action should be confirmed

  function announceStatus({ quiet = false } = {}) {
    const said = [];
    const shown = new Set();
    for (const section of view?.sections ?? []) {
      for (const c of section.connections ?? []) {
        const s = c.service;
        shown.add(s);
        titles.set(s, c.title);
        if (c.busy || pending.has(s) || c.status === 'signing_in') continue;
        if (c.status === 'refreshing') {
          // In between; a card first seen refreshing (a page opening) was connected.
          if (!settled.has(s)) settled.set(s, `connected ${c.account ?? ''}`);
          continue;
        }
        const key = `${c.status} ${c.account ?? ''}`;
        const changed = settled.has(s) && settled.get(s) !== key;
        if (!quiet && (changed || awaitingOutcome.has(s))) {
          let text = `${c.title}: ${c.statusText}`;
          if (c.status === 'connected' && c.account) text += ` (${c.account})`;
          if (c.status === 'needs_attention' && c.reasonText) text += `. ${c.reasonText}`;
          said.push(text.endsWith('.') ? text : `${text}.`);
        }
        awaitingOutcome.delete(s);
        settled.set(s, key);
      }
    }
    // A card the user's action took away (Disconnect of a mail account that is not the
    // chosen service): its connection is gone.
    for (const s of awaitingOutcome) {
      if (shown.has(s) || pending.has(s)) continue;
      if (!quiet) said.push(`${titles.get(s) ?? s}: Not connected.`);
      awaitingOutcome.delete(s);
      settled.delete(s);
    }
    // A new node each time, so that the same words said again are announced again.
    if (said.length) statusLive.replaceChildren(h('p', { text: said.join(' ') }));
  }

  function render() {
    renderDashboard(content, view, actions, { now: engineNow(), pending, passwordSignInUnavailable: options.passwordSignInUnavailable });
  }

  /** Takes `v` as the view to show; false when it is not one. */
  function takeView(v) {
    if (!v || !Array.isArray(v.sections)) return false;
    view = v;
    receivedAt = performance.now();
    return true;
  }

  function setView(v) {
    if (!takeView(v)) return;
    render();
    announceStatus();
  }

  // The engine tells its subscribers before it acts (before a sign-in window opens, a
  // token request is sent, a save): rendering there would hold the engine up by a whole
  // render, so a change it tells of is drawn once the engine has gone on, and several in a
  // row are drawn once (issue 12: the first Connect waited for a render).
  let drawQueued = false;
  function setViewSoon(v) {
    if (!takeView(v) || drawQueued) return;
    drawQueued = true;
    queueMicrotask(() => {
      drawQueued = false;
      render();
      announceStatus();
    });
  }

  function run(service, call) {
    clearError();
    if (service) pending.add(service);
    render();
    let p;
    try {
      p = Promise.resolve(call());
    } catch (err) {
      p = Promise.reject(err);
    }
    return p
      .then((v) => setView(v))
      .then(() => {
        if (service) awaitingOutcome.add(service);
        return true;
      })
      .catch((err) => {
        showError(err, service); // said by the toast; a changed state is still announced
        // An engine whose call failed still changed state (e.g. needs_attention): pick it up.
        try {
          setView(auth.view());
        } catch {
          /* keep the last view */
        }
        return false; // the form that started it keeps what was typed
      })
      .finally(() => {
        if (service) pending.delete(service);
        render();
        announceStatus();
      });
  }

  const actions = {
    refresh: (service) => run(service, () => auth.reauthorize(service)),
    change: (service, opts) => run(service, () => auth.connect(service, opts ?? {})),
    disconnect: (service) => run(service, () => auth.disconnect(service)),
    selectMailService: (choice) => run(null, () => auth.selectMailService(choice)),
    retryNow: (service) => run(service, () => auth.retryNow(service)),
    ...(typeof auth.signInWithPassword === 'function'
      ? {
          signInWithPassword: (service, opts) => run(service, () => auth.signInWithPassword(service, opts)),
          discover: (email) => Promise.resolve(auth.discoverMailService(email)),
        }
      : {}),
  };

  // Relative times ("Sign-in needed in 5 h") are the engine's words at its now: ask it again.
  const refreshView = () => {
    let next;
    try {
      next = typeof auth.refreshView === 'function' ? auth.refreshView() : auth.view();
    } catch {
      return;
    }
    Promise.resolve(next).then(setView, () => {});
  };
  const subscription = auth.subscribe((v) => setViewSoon(v));
  const timer = setInterval(refreshView, refreshMs);
  const onVisible = () => {
    if (doc.visibilityState === 'visible') refreshView();
  };
  doc.addEventListener('visibilitychange', onVisible);
  render();
  announceStatus({ quiet: true }); // what the page opened with is on screen, not news

  return {
    render,
    showError,
    clearError,
    actions,
    unmount() {
      clearInterval(timer);
      doc.removeEventListener('visibilitychange', onVisible);
      doc.removeEventListener('focusin', onFocusIn);
      doc.defaultView?.removeEventListener('resize', onResize);
      doc.documentElement.style.removeProperty('--sa-toast-space');
      try {
        auth.unsubscribe(subscription);
      } catch {
        /* already gone */
      }
      root.replaceChildren();
    },
  };
}
