//! The WebAssembly side (wasm32 only): the JavaScript API the hosts call, and the I/O the
//! core asks for: fetch (gloo-net), storage through the host driver, WebCrypto for the vault
//! and for randomness. Everything that decides lives in the core; this module executes.

mod api;
mod driver;
mod error;
mod net;
mod vault_crypto;

pub use api::{classify_refresh_error, SidebarAuth};
pub use driver::HostDriver;
pub use error::ApiError;

use wasm_bindgen::prelude::*;

/// TypeScript declarations for the values that cross the boundary as plain objects.
#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
export type ServiceId = "microsoft" | "google" | "salesforce" | "exchange";
export type UserAction = "retry_later" | "refresh" | "change" | "contact_admin";
export type MailServiceId = "microsoft365" | "outlook_com" | "gmail" | "exchange" | "not_sure";

/** How the engine reaches the outside world. Only openSignIn, load and save are required. */
export interface HostDriver {
  /** Open the provider's page; resolve with the full URL the provider redirected to.
   *  `interactive: false` means no window may be shown. Reject with `{code}`:
   *  "sign_in_cancelled", "popup_blocked", "interaction_required", or anything else. */
  openSignIn(url: string, redirectUri: string, interactive: boolean): Promise<string>;
  /** The persisted vault text (already encrypted by the engine), or null. */
  load(): Promise<string | null>;
  save(text: string): Promise<void>;
  /** Epoch milliseconds; defaults to Date.now(). */
  now?(): number;
  /** Call `tick()` at this epoch-ms time (replacing any earlier request). */
  scheduleWake?(epochMs: number): void;
  /** True when openSignIn can complete without a window (chrome.identity). */
  silentSignIn?: boolean;
  /** A session cache for access tokens (chrome.storage.session); never the vault. */
  loadSession?(): Promise<string | null>;
  saveSession?(text: string): Promise<void>;
  /** Run `task` holding the cross-context lock `name` (navigator.locks.request). With it, a
   *  renewal re-reads storage first, so several engine instances never refresh at once. */
  withLock?(name: string, task: () => Promise<unknown>): Promise<unknown>;
}

export interface Config {
  redirectUri: string;
  microsoft?: { clientId: string; tenant?: string; authority?: string; mailApi?: "graph" | "ews" | "imap";
    spa?: boolean; spaRefreshLifetimeMinutes?: number; issuer?: string; scopes?: string[]; apiOrigins?: string[] };
  google?: { clientId: string; clientSecret?: string; authorizeUrl?: string; tokenUrl?: string; revokeUrl?: string;
    issuer?: string; scopes?: string[]; apiOrigins?: string[] };
  salesforce?: { clientId: string; loginHosts?: { id: string; label: string; url: string }[];
    sessionTimeoutMinutes?: number; issuer?: string; scopes?: string[] };
  exchange?: { ewsUrl?: string };
  devtools?: unknown;
}

export interface ConnectOptions { loginHint?: string; loginHost?: string; tenant?: string }

export interface ConnectionView {
  service: ServiceId; title: string; account: string | null;
  status: "disconnected" | "connected" | "signing_in" | "refreshing" | "retrying" | "needs_attention";
  statusText: string; reason: string | null; reasonText: string | null; action: UserAction | null;
  providerCode: string | null; signInNeededAt: number | null; signInNeededText: string | null;
  accessTokenExpiresAt: number | null;
  expiryProvenance: "expires_in" | "jwt_exp" | "session_timeout" | "observed_401" | "assumed_default" | null;
  nextRetryAt: number | null; canRefresh: boolean; canChange: boolean; canRetry: boolean; busy: boolean;
  loginHost: string | null;
}

export interface DashboardView {
  now: number;
  notice: string | null;
  sections: {
    id: "email" | "crm"; title: string; mailService: MailServiceId | null;
    mailServiceChoices: { id: MailServiceId; label: string }[] | null; hint: string | null;
    connections: ConnectionView[];
    savedLogins: { username: string; loginHost: string }[] | null;
    loginHosts: { id: string; label: string; url: string }[] | null;
  }[];
}

/** Every rejection of the API is one of these. `code` is stable. */
export interface SidebarAuthError {
  code: string; message: string; service: ServiceId | null; reason: string | null;
  action: UserAction | null; providerCode: string | null; retryAt: number | null;
}

export interface Diagnosis {
  reason: string; action: UserAction; reasonText: string; dropRefreshToken: boolean;
  retryAfterMs: number | null; providerCode: string | null;
}

export interface ApiResponse { status: number; headers: Record<string, string>; body: string }
export interface ApiRequestInit { method?: string; headers?: Record<string, string>; body?: string }
export interface EngineEvent { at: number; service: ServiceId; kind: string; detail: string }
"#;
