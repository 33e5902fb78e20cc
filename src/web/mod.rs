//! The WebAssembly side (wasm32 only): the JavaScript API the hosts call, and the I/O the
//! core asks for: fetch (gloo-net), storage through the host driver, WebCrypto for the vault
//! and for randomness. Everything that decides lives in the core; this module executes.
//!
//! | file | job |
//! |---|---|
//! | `sidebar_auth.rs` | the `SidebarAuth` class: arguments in, promises of plain values out |
//! | `executor.rs` | runs the core's commands: sign-in windows, requests, persistence, locks |
//! | `args.rs` | reading arguments (serde-wasm-bindgen); `fetch`'s request and response |
//! | `exports.rs` | `classifyRefreshError`, `requiredOrigins` (no engine instance needed) |
//! | `bridge.rs` | values out through serde-wasm-bindgen; futures to promises |
//! | `driver.rs`, `net.rs`, `vault_crypto.rs`, `error.rs` | host driver, fetch, AES-GCM vault, rejections |
//!
//! Every TypeScript declaration of a value that crosses the boundary is generated from its
//! Rust type (tsify). The one hand-written declaration is `HostDriver`, an interface of
//! functions the host implements, which no serde type can describe.

mod args;
mod bridge;
mod driver;
mod error;
mod executor;
mod exports;
mod net;
mod sidebar_auth;
mod vault_crypto;

pub use driver::HostDriver;
pub use error::ApiError;
pub use exports::{classify_refresh_error, required_origins};
pub use sidebar_auth::SidebarAuth;

use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const HOST_DRIVER: &'static str = r#"
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
"#;
