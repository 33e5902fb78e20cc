//! What every target needs: one configuration with each OAuth provider, its profiles.

use sidebar_auth::provider::{profile_for, Config, ProviderId, ProviderProfile, Target};

pub const REDIRECT: &str = "https://abcdefghijklmnopabcdefghijklmnop.chromiumapp.org/";

pub fn config() -> Config {
    Config::from_json(
        &serde_json::json!({
            "redirectUri": REDIRECT,
            "microsoft": {"clientId": "ms-client", "tenant": "organizations"},
            "google": {"clientId": "g-client", "clientSecret": "GOCSPX-test"},
            "salesforce": {"clientId": "sf-client", "issuer": "https://login.salesforce.com"},
            "exchange": {}
        })
        .to_string(),
    )
    .expect("the fuzz configuration is valid")
}

/// The profiles of the OAuth providers, in a fixed order a fuzz byte can pick from.
pub fn profiles() -> Vec<ProviderProfile> {
    let config = config();
    [
        ProviderId::Microsoft,
        ProviderId::Google,
        ProviderId::Salesforce,
    ]
    .into_iter()
    .map(|id| profile_for(&config, id, &Target::default()).expect("configured"))
    .collect()
}
