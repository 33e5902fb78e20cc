//! What is persisted, and its versioned format.
//!
//! The vault holds refresh tokens, accounts and what the dashboard must remember across
//! restarts; never access tokens (they live in memory, or in the extension's session
//! storage). `src/web/` encrypts the text before it reaches storage (AES-GCM, WebCrypto,
//! non-extractable key).
//!
//! Corrupted storage loses nothing: text that cannot be read is kept verbatim in
//! `unreadable_previous` and written back with the next save, so a support case can still
//! recover it, and the engine starts empty instead of failing.

use serde::{Deserialize, Serialize};

use crate::connection::PersistedConnection;
use crate::provider::{MailService, ProviderMap};

pub const VAULT_VERSION: u32 = 1;
/// Unreadable text kept for support is capped: storage quotas are small.
const UNREADABLE_KEEP_LIMIT: usize = 64 * 1024;

/// A Salesforce username and login host used before, offered as `login_hint`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify), tsify(missing_as_null))]
#[serde(rename_all = "camelCase")]
pub struct SavedLogin {
    pub username: String,
    pub login_host: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Vault {
    pub version: u32,
    #[serde(default)]
    pub connections: ProviderMap<PersistedConnection>,
    #[serde(default)]
    pub mail_service: Option<MailService>,
    #[serde(default)]
    pub saved_logins: Vec<SavedLogin>,
    #[serde(default)]
    pub unreadable_previous: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VaultError {
    /// Not JSON, or not a vault.
    Corrupt(String),
    /// Written by a newer version of the engine; left untouched.
    NewerVersion(u32),
}

impl std::fmt::Display for VaultError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VaultError::Corrupt(why) => write!(f, "stored data is unreadable: {why}"),
            VaultError::NewerVersion(v) => write!(f, "stored data is from a newer version ({v})"),
        }
    }
}

impl std::error::Error for VaultError {}

impl Vault {
    pub fn new() -> Vault {
        Vault {
            version: VAULT_VERSION,
            ..<Vault as Default>::default()
        }
    }

    pub fn decode(text: &str) -> Result<Vault, VaultError> {
        #[derive(Deserialize)]
        struct VersionOnly {
            version: u32,
        }
        let VersionOnly { version } = serde_json::from_str(text).map_err(corrupt)?;
        if version > VAULT_VERSION {
            return Err(VaultError::NewerVersion(version));
        }
        serde_json::from_str(text).map_err(corrupt)
    }

    pub fn encode(&self) -> String {
        // Plain data with string keys: serializing it cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Keeps unreadable text for support instead of overwriting it.
    pub fn keep_unreadable(&mut self, text: &str) {
        let mut end = text.len().min(UNREADABLE_KEEP_LIMIT);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        self.unreadable_previous = Some(text[..end].to_string());
    }

    /// Remembers a Salesforce login, most recent first, at most ten.
    pub fn remember_login(logins: &mut Vec<SavedLogin>, login: SavedLogin) {
        logins.retain(|l| {
            !(l.username.eq_ignore_ascii_case(&login.username) && l.login_host == login.login_host)
        });
        logins.insert(0, login);
        logins.truncate(10);
    }
}

/// What kind of unreadable text, never its content (which may hold a token): serde_json's
/// category and position, not its message (which may quote the text).
fn corrupt(error: serde_json::Error) -> VaultError {
    use serde_json::error::Category;
    let why = match error.classify() {
        Category::Io | Category::Syntax | Category::Eof => "not JSON, or cut off",
        Category::Data => "JSON, but not a vault of this version",
    };
    VaultError::Corrupt(format!(
        "{why} (line {}, column {})",
        error.line(),
        error.column()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::ProviderId;

    /// A provider by its stored name (the vault's keys), as the format has it.
    fn id(name: &str) -> ProviderId {
        ProviderId::parse(name).unwrap()
    }

    #[test]
    fn round_trip() {
        let mut v = Vault::new();
        v.mail_service = Some(MailService::OutlookCom);
        Vault::remember_login(
            &mut v.saved_logins,
            SavedLogin {
                username: "a@acme.test".into(),
                login_host: "https://login.salesforce.com".into(),
            },
        );
        v.connections
            .insert(id("google"), <PersistedConnection as Default>::default());
        assert_eq!(Vault::decode(&v.encode()).unwrap(), v);
    }

    /// Written by the serde_json version of the engine (commit 0142c0b, every field set that
    /// can be): a vault in a user's storage must still read after the update.
    const SERDE_ERA_VAULT: &str = r#"{"version":1,"connections":{"microsoft":{"account":{"username":"alice@contoso.com","name":"Alice","subject":"s1","target":{"tenant":"organizations"}},"refreshToken":{"secret":"RT-1","signedInAt":1764000000000,"hardDeadline":1764086400000},"attention":null,"consecutiveFailures":2,"consecutiveApiRejections":0,"nextAttemptAt":1764000060000,"lastFailure":{"reason":"provider_unavailable","action":"retry_later","drop_refresh_token":false,"retry_after_ms":null,"provider_code":"AADSTS50196","claims":null},"loopGuard":{"recent":[]},"claims":"{\"access_token\":{}}","instanceUrl":null,"serverClock":{"offset_ms":-1200}},"salesforce":{"account":null,"refreshToken":null,"attention":{"reason":"refresh_token_revoked","action":"refresh","drop_refresh_token":true,"retry_after_ms":null,"provider_code":null,"claims":null},"consecutiveFailures":0,"consecutiveApiRejections":0,"nextAttemptAt":null,"lastFailure":null,"loopGuard":{"recent":[]},"claims":null,"instanceUrl":"https://acme.my.salesforce.com","serverClock":{"offset_ms":0}}},"mailService":"outlook_com","savedLogins":[{"username":"a@acme.test","loginHost":"https://login.salesforce.com"}]}"#;

    #[test]
    fn reads_a_vault_written_by_earlier_versions() {
        let v = Vault::decode(SERDE_ERA_VAULT).unwrap();
        assert_eq!(v.mail_service, Some(MailService::OutlookCom));
        assert_eq!(v.saved_logins[0].login_host, "https://login.salesforce.com");
        assert_eq!(v.unreadable_previous, None);
        let ms = v.connections.get(&id("microsoft")).unwrap();
        let account = ms.account.as_ref().unwrap();
        assert_eq!(account.username.as_deref(), Some("alice@contoso.com"));
        assert_eq!(account.target.tenant.as_deref(), Some("organizations"));
        assert_eq!(account.target.login_host, None);
        let rt = ms.refresh_token.as_ref().unwrap();
        assert_eq!(rt.secret, "RT-1");
        assert_eq!(rt.hard_deadline.map(|t| t.0), Some(1_764_086_400_000));
        assert_eq!(ms.consecutive_failures, 2);
        assert_eq!(
            ms.last_failure.as_ref().unwrap().provider_code.as_deref(),
            Some("AADSTS50196")
        );
        assert_eq!(ms.server_clock.offset_ms, -1200);
        let sf = v.connections.get(&id("salesforce")).unwrap();
        assert!(sf.attention.as_ref().unwrap().drop_refresh_token);
        assert_eq!(
            sf.instance_url.as_deref(),
            Some("https://acme.my.salesforce.com")
        );
        assert_eq!(Vault::decode(&v.encode()).unwrap(), v);
    }

    /// Written by the miniserde version of the engine (commit 366c5da, the version before
    /// this one) after a sign-in to Microsoft 365 and Salesforce and a refresh that met a
    /// 503: what a user's storage holds at the update.
    const MINISERDE_ERA_VAULT: &str = r#"{"version":1,"connections":{"microsoft":{"account":{"username":"alice@contoso.com","name":"Test User","subject":"sub-alice@contoso.com","target":{"tenant":null,"loginHost":null}},"refreshToken":{"secret":"RT-1","signedInAt":1764000000000,"hardDeadline":1764086400000},"attention":null,"consecutiveFailures":1,"consecutiveApiRejections":0,"nextAttemptAt":1764007260000,"lastFailure":{"reason":"provider_unavailable","action":"retry_later","drop_refresh_token":false,"retry_after_ms":60000,"provider_code":null,"claims":null},"loopGuard":{"recent":[1764007200000]},"claims":null,"instanceUrl":null,"serverClock":{"offset_ms":0}},"google":{"account":null,"refreshToken":null,"attention":null,"consecutiveFailures":0,"consecutiveApiRejections":0,"nextAttemptAt":null,"lastFailure":null,"loopGuard":{"recent":[]},"claims":null,"instanceUrl":null,"serverClock":{"offset_ms":0}},"salesforce":{"account":{"username":"alice@acme.test","name":null,"subject":"https://login.salesforce.com/id/00D/alice@acme.test","target":{"tenant":null,"loginHost":"https://login.salesforce.com"}},"refreshToken":{"secret":"5Aep-1","signedInAt":1764000000000,"hardDeadline":null},"attention":null,"consecutiveFailures":0,"consecutiveApiRejections":0,"nextAttemptAt":null,"lastFailure":null,"loopGuard":{"recent":[]},"claims":null,"instanceUrl":"https://acme.my.salesforce.com","serverClock":{"offset_ms":0}},"exchange":{"account":null,"refreshToken":null,"attention":null,"consecutiveFailures":0,"consecutiveApiRejections":0,"nextAttemptAt":null,"lastFailure":null,"loopGuard":{"recent":[]},"claims":null,"instanceUrl":null,"serverClock":{"offset_ms":0}}},"mailService":"outlook_com","savedLogins":[{"username":"alice@acme.test","loginHost":"https://login.salesforce.com"}],"unreadablePrevious":null}"#;

    #[test]
    fn reads_a_vault_written_by_the_previous_version() {
        let v = Vault::decode(MINISERDE_ERA_VAULT).unwrap();
        assert_eq!(v.mail_service, Some(MailService::OutlookCom));
        let ms = v.connections.get(&id("microsoft")).unwrap();
        assert_eq!(ms.refresh_token.as_ref().unwrap().secret, "RT-1");
        assert_eq!(ms.consecutive_failures, 1);
        assert_eq!(
            ms.last_failure.as_ref().unwrap().retry_after_ms,
            Some(60_000)
        );
        assert_eq!(ms.loop_guard, {
            let mut g = crate::schedule::LoopGuard::default();
            g.record(crate::time::Timestamp(1_764_007_200_000));
            g
        });
        let sf = v.connections.get(&id("salesforce")).unwrap();
        assert_eq!(
            sf.account.as_ref().unwrap().target.login_host.as_deref(),
            Some("https://login.salesforce.com")
        );
        assert_eq!(sf.refresh_token.as_ref().unwrap().secret, "5Aep-1");
        assert_eq!(v.saved_logins.len(), 1);
        // Written back by this version and read again: nothing lost.
        assert_eq!(Vault::decode(&v.encode()).unwrap(), v);
    }

    #[test]
    fn corrupt_and_newer_vaults_are_typed_errors_without_content() {
        let err = Vault::decode("{\"version\":1,\"connections\":{\"microsoft\":{\"refreshToken\":{\"secret\":\"RT-SECRET\"").unwrap_err();
        assert!(
            matches!(&err, VaultError::Corrupt(why) if !why.contains("RT-SECRET")),
            "{err:?}"
        );
        assert_eq!(
            Vault::decode("{\"version\":7}"),
            Err(VaultError::NewerVersion(7))
        );
        assert!(matches!(Vault::decode(""), Err(VaultError::Corrupt(_))));
        assert!(matches!(
            Vault::decode("{\"version\":1,\"connections\":{\"yahoo\":{}}}"),
            Err(VaultError::Corrupt(_))
        ));
    }

    #[test]
    fn unreadable_text_is_kept_and_capped_on_a_char_boundary() {
        let mut v = Vault::new();
        let text = "é".repeat(40_000);
        v.keep_unreadable(&text);
        let kept = v.unreadable_previous.unwrap();
        assert!(kept.len() <= 64 * 1024 && text.starts_with(&kept));
    }

    #[test]
    fn saved_logins_most_recent_first_without_duplicates() {
        let mut logins = Vec::new();
        for i in 0..12 {
            Vault::remember_login(
                &mut logins,
                SavedLogin {
                    username: format!("u{i}"),
                    login_host: "h".into(),
                },
            );
        }
        Vault::remember_login(
            &mut logins,
            SavedLogin {
                username: "U5".into(),
                login_host: "h".into(),
            },
        );
        assert_eq!(logins.len(), 10);
        assert_eq!(logins[0].username, "U5");
        assert_eq!(
            logins
                .iter()
                .filter(|l| l.username.eq_ignore_ascii_case("u5"))
                .count(),
            1
        );
    }
}
