//! `sidebar-auth`: keeps an email sidebar's connections (Microsoft 365 / Exchange Online,
//! on-premises Exchange, Gmail, Salesforce) authorized.
//!
//! The crate is split the way `quinn-proto` / `quinn` are: everything that decides lives in a
//! sans-I/O core that never touches the network, a clock or browser bindings, and is driven
//! by its caller with time (`now`), randomness and bytes. `src/web/` (wasm32 only) is the
//! driver: fetch, storage, crypto, the JavaScript API. See ARCHITECTURE.md for the map.
//!
//! The modules in dependency order (each uses only those before it):
//! `http`, `time`, `random` → `diagnosis` → `provider` → `authorize`, `token` → `schedule` →
//! `connection` → `vault` → `engine` → `view`, `error` → `web`.

pub mod authorize;
pub mod connection;
pub mod diagnosis;
pub mod engine;
pub mod error;
pub mod http;
pub mod provider;
pub mod random;
pub mod schedule;
pub mod time;
pub mod token;
pub mod vault;
pub mod view;

#[cfg(target_arch = "wasm32")]
pub mod web;

pub use diagnosis::{Action, Diagnosis, Reason};
pub use provider::ProviderId;
pub use time::{Millis, Timestamp};
