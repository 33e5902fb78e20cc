// The mailbox Outlook is signed into, as the add-in finds it (no password is ever asked).
//
// On an on-premises Exchange mailbox, Outlook itself sends an add-in's EWS request to the
// mailbox's server as the signed-in user (`Office.context.mailbox.makeEwsRequestAsync`,
// OfficeDev/office-js-docs-pr docs/outlook/web-services.md), and `getCallbackTokenAsync`
// gives a token that server accepts (docs/outlook/authentication.md, "Callback tokens").
// In Exchange Online these legacy Exchange tokens are turned off for every tenant
// (docs/includes/legacy-exchange-token-deprecation.md): both calls fail, with error 9017
// (GenericTokenError, docs/reference/javascript-api-for-office-error-codes.md), so a
// Microsoft 365 mailbox connects with a Microsoft sign-in (Graph) instead.
//
// The check is one EWS GetFolder of the inbox (the same verify call the engine makes with a
// password, docs/web-service-reference/getfolder-operation.md). This is host code: the
// answer's XML is read with the page's DOMParser (a task pane has one; the engine, which
// also runs in a service worker, has its own reader).

const GET_INBOX = `<?xml version="1.0" encoding="utf-8"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types" xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages">
  <soap:Header><t:RequestServerVersion Version="Exchange2013"/></soap:Header>
  <soap:Body><m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape>
  <m:FolderIds><t:DistinguishedFolderId Id="inbox"/></m:FolderIds></m:GetFolder></soap:Body>
</soap:Envelope>`;

const MESSAGES_NS = 'http://schemas.microsoft.com/exchange/services/2006/messages';
/** Office error codes of the legacy-token shutdown (javascript-api-for-office-error-codes.md). */
const LEGACY_TOKENS_OFF = new Set([9017, 9018]);

/**
 * @returns {Promise<{kind: 'on_premises'|'exchange_online'|'unavailable', text: string, code?: number}>}
 */
export function checkOutlookMailbox(Office) {
  const mailbox = Office?.context?.mailbox;
  const address = mailbox?.userProfile?.emailAddress ?? 'your mailbox';
  if (typeof mailbox?.makeEwsRequestAsync !== 'function') {
    return Promise.resolve({ kind: 'unavailable', text: 'This Outlook does not let add-ins reach the mailbox directly.' });
  }
  return new Promise((resolve) => {
    mailbox.makeEwsRequestAsync(GET_INBOX, (result) => {
      if (result.status === 'succeeded') {
        const doc = new DOMParser().parseFromString(String(result.value ?? ''), 'text/xml');
        const message = doc.getElementsByTagNameNS(MESSAGES_NS, 'GetFolderResponseMessage')[0];
        if (message?.getAttribute('ResponseClass') === 'Success') {
          resolve({
            kind: 'on_premises',
            text: `${address} is on your company’s Exchange server: the add-in uses the connection Outlook already has. No password is needed here.`,
          });
          return;
        }
        const code = doc.getElementsByTagNameNS(MESSAGES_NS, 'ResponseCode')[0]?.textContent ?? 'unknown';
        resolve({ kind: 'unavailable', text: `Your Exchange server refused the mailbox request (${code}).` });
        return;
      }
      const code = result.error?.code;
      if (LEGACY_TOKENS_OFF.has(code)) {
        resolve({
          kind: 'exchange_online',
          code,
          text: `${address} is in Microsoft 365 (Exchange Online), which no longer gives add-ins Exchange tokens: connect it with Microsoft 365 below.`,
        });
      } else {
        resolve({ kind: 'unavailable', code, text: `Outlook could not reach the mailbox (error ${code ?? 'unknown'}). Try again later.` });
      }
    });
  });
}
