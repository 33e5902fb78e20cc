//! The authorization code flow with PKCE: the authorization URL, the redirect that comes
//! back, and the token-endpoint requests (code, refresh, revocation).
//!
//! The `oauth2` crate does the OAuth mechanics of the authorization request (typed values,
//! PKCE S256, the URL). The token-endpoint requests are built as data for the driver to
//! send (see `token_endpoint_post`). Responses are parsed in `token` and `diagnosis`,
//! because the providers' quirks (no `expires_in`, `issued_at` strings, `error_codes`) do
//! not fit oauth2's standard response types.

use oauth2::basic::BasicClient;
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, CsrfToken, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, Scope,
};
use url::Url;

use crate::http::HttpRequest;
pub use crate::provider::Prompt;
use crate::provider::ProviderProfile;
use crate::random::RandomSource;
use crate::time::Timestamp;

/// What the sign-in should look like.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SignInOptions {
    pub login_hint: Option<String>,
    /// `prompt` values, sent space-delimited (OIDC Core §3.1.2.1).
    pub prompts: Vec<Prompt>,
    /// A Microsoft claims challenge from an API (passed as the `claims` parameter).
    pub claims: Option<String>,
}

/// What must be remembered between opening the sign-in window and the redirect.
/// It holds the PKCE verifier, so it stays in memory and is never logged.
#[derive(Clone, PartialEq, Eq)]
pub struct PendingAuthorization {
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
    pub started_at: Timestamp,
    pub interactive: bool,
}

impl std::fmt::Debug for PendingAuthorization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingAuthorization")
            .field("started_at", &self.started_at)
            .field("interactive", &self.interactive)
            .finish_non_exhaustive()
    }
}

/// Builds the authorization URL (RFC 6749 §4.1.1, RFC 7636 §4.3, OIDC Core §3.1.2.1).
pub fn authorization_url(
    profile: &ProviderProfile,
    options: &SignInOptions,
    random: &mut dyn RandomSource,
    now: Timestamp,
) -> (Url, PendingAuthorization) {
    // 32 random bytes: a 43-character verifier (RFC 7636 §4.1), and the same for state and
    // nonce, so neither can be guessed.
    let verifier = PkceCodeVerifier::new(random.token(32));
    let challenge = PkceCodeChallenge::from_code_verifier_sha256(&verifier);
    let state = random.token(32);
    let nonce = random.token(32);
    let client = BasicClient::new(ClientId::new(profile.client_id.clone()))
        .set_auth_uri(AuthUrl::from_url(profile.authorize_url.clone()));
    let state_for_oauth2 = state.clone();
    let mut request = client
        .authorize_url(move || CsrfToken::new(state_for_oauth2))
        .set_redirect_uri(std::borrow::Cow::Owned(redirect_url(profile)))
        .set_pkce_challenge(challenge)
        .add_scopes(profile.scopes.iter().cloned().map(Scope::new))
        .add_extra_param("nonce", nonce.clone());
    for (name, value) in &profile.extra_authorize_params {
        request = request.add_extra_param(name.clone(), value.clone());
    }
    if let Some(hint) = options.login_hint.as_deref().filter(|h| !h.is_empty()) {
        request = request.add_extra_param("login_hint", hint.to_string());
    }
    if !options.prompts.is_empty() {
        let prompt: Vec<&str> = options.prompts.iter().map(|p| p.as_str()).collect();
        request = request.add_extra_param("prompt", prompt.join(" "));
    }
    if let Some(claims) = &options.claims {
        request = request.add_extra_param("claims", claims.clone());
    }
    let (url, _) = request.url();
    let pending = PendingAuthorization {
        state,
        nonce,
        pkce_verifier: verifier.secret().clone(),
        started_at: now,
        interactive: !options.prompts.contains(&Prompt::None),
    };
    (url, pending)
}

fn redirect_url(profile: &ProviderProfile) -> RedirectUrl {
    // Validated when the host is created (`Engine::new` checks every profile).
    RedirectUrl::new(profile.redirect_uri.clone())
        .unwrap_or_else(|_| RedirectUrl::from_url(Url::parse("about:invalid").expect("static URL")))
}

/// An error an authorization server put in the redirect (RFC 6749 §4.1.2.1, OIDC Core
/// §3.1.2.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderAuthError {
    AccessDenied,
    InteractionRequired,
    LoginRequired,
    ConsentRequired,
    AccountSelectionRequired,
    InvalidRequest,
    UnauthorizedClient,
    InvalidScope,
    ServerError,
    TemporarilyUnavailable,
    Other(String),
}

impl ProviderAuthError {
    fn parse(code: &str) -> ProviderAuthError {
        match code {
            "access_denied" => ProviderAuthError::AccessDenied,
            "interaction_required" => ProviderAuthError::InteractionRequired,
            "login_required" => ProviderAuthError::LoginRequired,
            "consent_required" => ProviderAuthError::ConsentRequired,
            "account_selection_required" => ProviderAuthError::AccountSelectionRequired,
            "invalid_request" => ProviderAuthError::InvalidRequest,
            "unauthorized_client" => ProviderAuthError::UnauthorizedClient,
            "invalid_scope" => ProviderAuthError::InvalidScope,
            "server_error" => ProviderAuthError::ServerError,
            "temporarily_unavailable" => ProviderAuthError::TemporarilyUnavailable,
            other => ProviderAuthError::Other(other.to_string()),
        }
    }

    /// The `error` code as the provider sent it (RFC 6749 §4.1.2.1), for support.
    pub fn code(&self) -> &str {
        match self {
            ProviderAuthError::AccessDenied => "access_denied",
            ProviderAuthError::InteractionRequired => "interaction_required",
            ProviderAuthError::LoginRequired => "login_required",
            ProviderAuthError::ConsentRequired => "consent_required",
            ProviderAuthError::AccountSelectionRequired => "account_selection_required",
            ProviderAuthError::InvalidRequest => "invalid_request",
            ProviderAuthError::UnauthorizedClient => "unauthorized_client",
            ProviderAuthError::InvalidScope => "invalid_scope",
            ProviderAuthError::ServerError => "server_error",
            ProviderAuthError::TemporarilyUnavailable => "temporarily_unavailable",
            ProviderAuthError::Other(code) => code,
        }
    }

    /// A silent (`prompt=none`) request that needs the user: not a failure of the account.
    pub fn needs_interaction(&self) -> bool {
        matches!(
            self,
            ProviderAuthError::InteractionRequired
                | ProviderAuthError::LoginRequired
                | ProviderAuthError::ConsentRequired
                | ProviderAuthError::AccountSelectionRequired
        )
    }
}

/// Why a redirect was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedirectError {
    /// Not a URL, or not the registered redirect URI.
    NotOurRedirect,
    /// RFC 6749 §10.12: the `state` does not match the request we made (or is missing).
    StateMismatch,
    /// RFC 9207 §2.4: the `iss` parameter names another authorization server.
    IssuerMismatch { received: String },
    /// RFC 9207 §2.4: the provider advertises `authorization_response_iss_parameter_supported`
    /// and the response has no `iss`: it may come from another server (a mix-up).
    MissingIssuer,
    /// The authorization server answered with an error.
    Provider {
        error: ProviderAuthError,
        description: Option<String>,
    },
    /// Neither `code` nor `error`.
    MissingCode,
}

/// Checks the redirect and returns the authorization code.
///
/// Order as oauth4webapi's `validateAuthResponse`: the issuer first (RFC 9207 §2.4, so a
/// mix-up attacker's `error` is not trusted either), then `state`, then `error`, then `code`.
pub fn parse_redirect(
    profile: &ProviderProfile,
    pending: &PendingAuthorization,
    redirected_to: &str,
) -> Result<AuthorizationCode, RedirectError> {
    let url = Url::parse(redirected_to).map_err(|_| RedirectError::NotOurRedirect)?;
    let expected = Url::parse(&profile.redirect_uri).map_err(|_| RedirectError::NotOurRedirect)?;
    if url.origin() != expected.origin() || url.path() != expected.path() {
        return Err(RedirectError::NotOurRedirect);
    }
    let param = |name: &str| {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    match param("iss") {
        Some(iss) if !profile.issuer.accepts(&iss) => {
            return Err(RedirectError::IssuerMismatch { received: iss })
        }
        None if profile.requires_iss => return Err(RedirectError::MissingIssuer),
        _ => {}
    }
    match param("state") {
        Some(state) if constant_time_eq(state.as_bytes(), pending.state.as_bytes()) => {}
        _ => return Err(RedirectError::StateMismatch),
    }
    if let Some(error) = param("error") {
        return Err(RedirectError::Provider {
            error: ProviderAuthError::parse(&error),
            description: param("error_description"),
        });
    }
    param("code")
        .filter(|c| !c.is_empty())
        .map(AuthorizationCode::new)
        .ok_or(RedirectError::MissingCode)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The token request for an authorization code (RFC 6749 §4.1.3, RFC 7636 §4.5).
pub fn code_exchange_request(
    profile: &ProviderProfile,
    pending: &PendingAuthorization,
    code: AuthorizationCode,
) -> HttpRequest {
    token_endpoint_post(
        profile,
        profile.token_url.as_str(),
        &[
            ("grant_type", "authorization_code"),
            ("code", code.secret()),
            ("redirect_uri", &profile.redirect_uri),
            ("code_verifier", &pending.pkce_verifier),
        ],
    )
}

/// The refresh request (RFC 6749 §6), with the one resource's scopes where the provider
/// needs them (Microsoft: one resource per token request, AADSTS700022).
pub fn refresh_request(profile: &ProviderProfile, refresh_token: &str) -> HttpRequest {
    let scope = profile.refresh_scopes.join(" ");
    let mut params = vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
    ];
    if !scope.is_empty() {
        params.push(("scope", &scope));
    }
    token_endpoint_post(profile, profile.token_url.as_str(), &params)
}

/// The revocation request (RFC 7009 §2.1), where the provider has an endpoint.
pub fn revocation_request(profile: &ProviderProfile, refresh_token: &str) -> Option<HttpRequest> {
    let revoke_url = profile.revoke_url.as_ref()?;
    Some(token_endpoint_post(
        profile,
        revoke_url.as_str(),
        &[
            ("token", refresh_token),
            ("token_type_hint", "refresh_token"),
        ],
    ))
}

/// A form POST to the token or revocation endpoint, with client authentication.
///
/// Written here rather than through oauth2's request builders: those send the request and
/// parse the response in one call (they drive I/O, the core is driven), and linking them
/// pulled their response parsers into the module for nothing (~12 KB brotli, measured with
/// the size benchmark). Each body is one line of RFC 6749; oauth2 still builds the
/// authorization URL and the PKCE challenge above.
fn token_endpoint_post(
    profile: &ProviderProfile,
    url: &str,
    params: &[(&str, &str)],
) -> HttpRequest {
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    form.extend_pairs(params);
    // A public client identifies itself with `client_id` (RFC 6749 §3.2.1); Google's
    // installed-app secret goes in the body (§2.3.1), which keeps the request a CORS
    // "simple" content type instead of adding an Authorization header.
    form.append_pair("client_id", &profile.client_id);
    if let Some(secret) = &profile.client_secret {
        form.append_pair("client_secret", secret);
    }
    HttpRequest {
        method: "POST".into(),
        url: url.to_string(),
        headers: vec![
            (
                "Content-Type".into(),
                "application/x-www-form-urlencoded".into(),
            ),
            ("Accept".into(), "application/json".into()),
        ],
        body: form.finish(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads `prompt` back from an authorization URL.
    fn prompts_of(url: &Url) -> Vec<Prompt> {
        url.query_pairs()
            .find(|(k, _)| k == "prompt")
            .map(|(_, v)| v.split(' ').filter_map(Prompt::parse).collect())
            .unwrap_or_default()
    }
    use crate::provider::{google, microsoft, salesforce, IssuerRule};
    use crate::random::SeededRandom;
    use base64::Engine;

    #[test]
    fn provider_error_codes_read_back_as_sent() {
        for code in [
            "access_denied",
            "interaction_required",
            "login_required",
            "consent_required",
            "account_selection_required",
            "invalid_request",
            "unauthorized_client",
            "invalid_scope",
            "server_error",
            "temporarily_unavailable",
            "AADSTS9002313",
        ] {
            assert_eq!(ProviderAuthError::parse(code).code(), code);
        }
        assert_eq!(
            ProviderAuthError::parse("AADSTS9002313"),
            ProviderAuthError::Other("AADSTS9002313".into())
        );
    }

    /// The S256 challenge of a verifier, through oauth2 (which uses sha2).
    fn sha256(verifier: &str) -> String {
        PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(verifier.to_string()))
            .as_str()
            .to_string()
    }

    fn pr(
        p: &ProviderProfile,
        pending: &PendingAuthorization,
        url: &str,
    ) -> Result<String, RedirectError> {
        parse_redirect(p, pending, url).map(|c| c.secret().clone())
    }

    fn ms_profile() -> ProviderProfile {
        let cfg: microsoft::MicrosoftConfig =
            serde_json::from_str(r#"{"clientId":"client-1","tenant":"organizations"}"#).unwrap();
        microsoft::profile(&cfg, "https://abc.chromiumapp.org/", None).unwrap()
    }

    fn query(url: &Url, name: &str) -> Option<String> {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }

    #[test]
    fn rfc7636_appendix_b_vector() {
        assert_eq!(
            sha256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn authorization_url_carries_pkce_state_nonce_hint_prompt_claims() {
        let p = ms_profile();
        let opts = SignInOptions {
            login_hint: Some("alice@contoso.com".into()),
            prompts: vec![Prompt::Login],
            claims: Some("{\"access_token\":{}}".into()),
        };
        let (url, pending) = authorization_url(&p, &opts, &mut SeededRandom(7), Timestamp(5));
        assert!(url
            .as_str()
            .starts_with("https://login.microsoftonline.com/organizations/oauth2/v2.0/authorize?"));
        assert_eq!(query(&url, "response_type").as_deref(), Some("code"));
        assert_eq!(query(&url, "client_id").as_deref(), Some("client-1"));
        assert_eq!(
            query(&url, "redirect_uri").as_deref(),
            Some("https://abc.chromiumapp.org/")
        );
        assert_eq!(
            query(&url, "code_challenge_method").as_deref(),
            Some("S256")
        );
        assert_eq!(
            query(&url, "code_challenge"),
            Some(sha256(&pending.pkce_verifier))
        );
        assert_eq!(query(&url, "state"), Some(pending.state.clone()));
        assert_eq!(query(&url, "nonce"), Some(pending.nonce.clone()));
        assert_eq!(
            query(&url, "login_hint").as_deref(),
            Some("alice@contoso.com")
        );
        assert_eq!(query(&url, "prompt").as_deref(), Some("login"));
        assert_eq!(
            query(&url, "claims").as_deref(),
            Some("{\"access_token\":{}}")
        );
        let scope = query(&url, "scope").unwrap();
        assert!(scope.contains("offline_access") && scope.contains("openid"));
        assert_eq!(pending.pkce_verifier.len(), 43);
        assert_ne!(pending.state, pending.nonce);
        assert_eq!(url_safe_decode(&pending.state).len(), 32);
        assert!(pending.interactive);
        assert_eq!(prompts_of(&url), vec![Prompt::Login]);
    }

    fn url_safe_decode(s: &str) -> Vec<u8> {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(s)
            .unwrap()
    }

    #[test]
    fn google_asks_for_offline_access_only_with_a_secret() {
        let cfg: google::GoogleConfig =
            serde_json::from_str(r#"{"clientId":"g","clientSecret":"s"}"#).unwrap();
        let p = google::profile(&cfg, "https://abc.chromiumapp.org/").unwrap();
        let (url, _) = authorization_url(
            &p,
            &SignInOptions {
                prompts: vec![Prompt::SelectAccount, Prompt::Consent],
                ..Default::default()
            },
            &mut SeededRandom(1),
            Timestamp(0),
        );
        assert_eq!(query(&url, "access_type").as_deref(), Some("offline"));
        assert_eq!(
            query(&url, "prompt").as_deref(),
            Some("select_account consent")
        );
    }

    fn pending_for(p: &ProviderProfile) -> PendingAuthorization {
        authorization_url(
            p,
            &SignInOptions::default(),
            &mut SeededRandom(3),
            Timestamp(0),
        )
        .1
    }

    #[test]
    fn redirect_with_code_and_matching_state() {
        let p = ms_profile();
        let pending = pending_for(&p);
        let url = format!(
            "https://abc.chromiumapp.org/?code=C0DE&state={}",
            pending.state
        );
        assert_eq!(pr(&p, &pending, &url).unwrap(), "C0DE");
    }

    #[test]
    fn redirect_state_mismatch_and_missing_state() {
        let p = ms_profile();
        let pending = pending_for(&p);
        assert_eq!(
            pr(
                &p,
                &pending,
                "https://abc.chromiumapp.org/?code=C&state=forged"
            ),
            Err(RedirectError::StateMismatch)
        );
        assert_eq!(
            pr(&p, &pending, "https://abc.chromiumapp.org/?code=C"),
            Err(RedirectError::StateMismatch)
        );
        // An error response with a wrong state is not trusted either.
        assert_eq!(
            pr(
                &p,
                &pending,
                "https://abc.chromiumapp.org/?error=access_denied&state=x"
            ),
            Err(RedirectError::StateMismatch)
        );
    }

    #[test]
    fn redirect_provider_errors_are_typed() {
        let p = ms_profile();
        let pending = pending_for(&p);
        for (code, expected) in [
            ("access_denied", ProviderAuthError::AccessDenied),
            (
                "interaction_required",
                ProviderAuthError::InteractionRequired,
            ),
            ("login_required", ProviderAuthError::LoginRequired),
            ("consent_required", ProviderAuthError::ConsentRequired),
            (
                "account_selection_required",
                ProviderAuthError::AccountSelectionRequired,
            ),
            (
                "temporarily_unavailable",
                ProviderAuthError::TemporarilyUnavailable,
            ),
            (
                "weird_new_error",
                ProviderAuthError::Other("weird_new_error".into()),
            ),
        ] {
            let url = format!(
                "https://abc.chromiumapp.org/?error={code}&error_description=d&state={}",
                pending.state
            );
            assert_eq!(
                pr(&p, &pending, &url),
                Err(RedirectError::Provider {
                    error: expected,
                    description: Some("d".into())
                })
            );
        }
    }

    #[test]
    fn iss_is_required_where_the_provider_advertises_it() {
        let mut p = google::profile(
            &serde_json::from_str(r#"{"clientId":"g"}"#).unwrap(),
            "https://abc.chromiumapp.org/",
        )
        .unwrap();
        assert!(p.requires_iss, "Google's discovery document advertises it");
        let (_, pending) = authorization_url(
            &p,
            &SignInOptions::default(),
            &mut SeededRandom(1),
            Timestamp(0),
        );
        let without = format!(
            "https://abc.chromiumapp.org/?code=C&state={}",
            pending.state
        );
        assert_eq!(
            parse_redirect(&p, &pending, &without).unwrap_err(),
            RedirectError::MissingIssuer
        );
        let with = format!("{without}&iss=https%3A%2F%2Faccounts.google.com");
        assert!(parse_redirect(&p, &pending, &with).is_ok());
        p.requires_iss = false;
        assert!(parse_redirect(&p, &pending, &without).is_ok());
    }

    #[test]
    fn redirect_issuer_checked_per_rfc9207() {
        let mut p = ms_profile();
        p.issuer = IssuerRule::Exact("https://idp.example".into());
        let pending = pending_for(&p);
        let ok = format!(
            "https://abc.chromiumapp.org/?code=C&state={}&iss=https%3A%2F%2Fidp.example",
            pending.state
        );
        assert!(parse_redirect(&p, &pending, &ok).is_ok());
        let bad = format!(
            "https://abc.chromiumapp.org/?code=C&state={}&iss=https%3A%2F%2Fattacker.example",
            pending.state
        );
        assert_eq!(
            pr(&p, &pending, &bad),
            Err(RedirectError::IssuerMismatch {
                received: "https://attacker.example".into()
            })
        );
    }

    #[test]
    fn redirect_to_another_place_or_without_code() {
        let p = ms_profile();
        let pending = pending_for(&p);
        assert_eq!(
            pr(&p, &pending, "not a url"),
            Err(RedirectError::NotOurRedirect)
        );
        let other = format!("https://evil.example/?code=C&state={}", pending.state);
        assert_eq!(pr(&p, &pending, &other), Err(RedirectError::NotOurRedirect));
        let none = format!("https://abc.chromiumapp.org/?state={}", pending.state);
        assert_eq!(pr(&p, &pending, &none), Err(RedirectError::MissingCode));
    }

    fn form(body: &str) -> Vec<(String, String)> {
        url::form_urlencoded::parse(body.as_bytes())
            .into_owned()
            .collect()
    }

    fn field<'a>(f: &'a [(String, String)], k: &str) -> Option<&'a str> {
        f.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
    }

    #[test]
    fn code_exchange_is_a_public_client_form_post() {
        let p = ms_profile();
        let pending = pending_for(&p);
        let req = code_exchange_request(&p, &pending, AuthorizationCode::new("C0DE".into()));
        assert_eq!(req.method, "POST");
        assert_eq!(
            req.url,
            "https://login.microsoftonline.com/organizations/oauth2/v2.0/token"
        );
        assert_eq!(
            req.header("content-type"),
            Some("application/x-www-form-urlencoded")
        );
        assert_eq!(req.header("authorization"), None);
        let f = form(&req.body);
        assert_eq!(field(&f, "grant_type"), Some("authorization_code"));
        assert_eq!(field(&f, "code"), Some("C0DE"));
        assert_eq!(
            field(&f, "code_verifier"),
            Some(pending.pkce_verifier.as_str())
        );
        assert_eq!(field(&f, "client_id"), Some("client-1"));
        assert_eq!(
            field(&f, "redirect_uri"),
            Some("https://abc.chromiumapp.org/")
        );
        assert_eq!(field(&f, "client_secret"), None);
    }

    #[test]
    fn refresh_names_one_resource_for_microsoft() {
        let req = refresh_request(&ms_profile(), "RT-1");
        let f = form(&req.body);
        assert_eq!(field(&f, "grant_type"), Some("refresh_token"));
        assert_eq!(field(&f, "refresh_token"), Some("RT-1"));
        assert_eq!(field(&f, "scope"), Some("https://graph.microsoft.com/Mail.ReadWrite https://graph.microsoft.com/User.Read offline_access"));
    }

    #[test]
    fn google_secret_goes_in_the_body() {
        let cfg: google::GoogleConfig =
            serde_json::from_str(r#"{"clientId":"g","clientSecret":"GOCSPX-x"}"#).unwrap();
        let p = google::profile(&cfg, "https://abc.chromiumapp.org/").unwrap();
        let f = form(&refresh_request(&p, "RT").body);
        assert_eq!(field(&f, "client_secret"), Some("GOCSPX-x"));
        assert_eq!(field(&f, "client_id"), Some("g"));
    }

    #[test]
    fn revocation_where_the_provider_has_it() {
        assert_eq!(revocation_request(&ms_profile(), "RT"), None);
        let cfg: salesforce::SalesforceConfig =
            serde_json::from_str(r#"{"clientId":"sf"}"#).unwrap();
        let p = salesforce::profile(&cfg, "https://abc.chromiumapp.org/", None).unwrap();
        let req = revocation_request(&p, "RT-9").unwrap();
        assert_eq!(
            req.url,
            "https://login.salesforce.com/services/oauth2/revoke"
        );
        let f = form(&req.body);
        assert_eq!(field(&f, "token"), Some("RT-9"));
        assert_eq!(field(&f, "token_type_hint"), Some("refresh_token"));
    }
}
