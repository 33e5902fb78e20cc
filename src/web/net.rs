//! HTTP through gloo-net (the Fetch API), with a timeout.

use gloo_net::http::{Method, RequestBuilder};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{AbortController, RequestCredentials, RequestRedirect};

use crate::connection::NetworkFailure;
use crate::http::{HttpRequest, HttpResponse};

/// A token or API request that has not answered by then is treated as a network failure
/// (and so retried with backoff), never left hanging.
const TIMEOUT_MS: i32 = 30_000;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(handler: &js_sys::Function, timeout: i32) -> JsValue;
    #[wasm_bindgen(js_name = clearTimeout)]
    fn clear_timeout(handle: &JsValue);
}

/// Whether a redirect is followed. Token and revocation requests never follow one: a
/// followed 307/308 re-posts the form, refresh token included, to the `Location`
/// (RFC 9110 §15.4.8; RFC 9700 §4.12 on redirects and credentials), and no provider here
/// documents a redirecting token endpoint. The redirect then arrives as an
/// "opaqueredirect" response (Fetch standard): status 0, no headers, no body, which the
/// diagnosis reads as an answer that says nothing about the refresh token (transient). API requests follow: the browser drops the
/// `Authorization` header on a cross-origin hop (Fetch standard, whatwg/fetch#1544;
/// Chrome 119+, chromestatus.com/feature/5195900413018112, the extension's
/// `minimum_chrome_version`), so a same-origin hop alone carries the token.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Redirects {
    Refuse,
    Follow,
}

pub async fn send(
    request: &HttpRequest,
    redirects: Redirects,
) -> Result<HttpResponse, NetworkFailure> {
    send_to_end(request, redirects)
        .await
        .map(|(response, _)| response)
}

/// `send`, with the URL the answer came from after the browser followed redirects
/// (`Response.url`): autodiscover's http step judges its redirect by it.
pub async fn send_to_end(
    request: &HttpRequest,
    redirects: Redirects,
) -> Result<(HttpResponse, String), NetworkFailure> {
    let method = Method::from_bytes(request.method.as_bytes())
        .map_err(|_| NetworkFailure::Unreachable("bad method".into()))?;
    let controller = AbortController::new()
        .map_err(|_| NetworkFailure::Unreachable("no AbortController".into()))?;
    let mut builder = RequestBuilder::new(&request.url)
        .method(method)
        // Token endpoints are cross-origin; cookies are neither needed nor wanted.
        .credentials(RequestCredentials::Omit)
        .redirect(match redirects {
            Redirects::Refuse => RequestRedirect::Manual,
            Redirects::Follow => RequestRedirect::Follow,
        })
        .abort_signal(Some(&controller.signal()));
    // A password (Basic) is never carried along a redirect, which could lead to http or to
    // a host the user did not confirm: such a request fails instead.
    if request
        .header("authorization")
        .is_some_and(|v| v.starts_with("Basic "))
    {
        builder = builder.redirect(RequestRedirect::Error);
    }
    for (name, value) in &request.headers {
        builder = builder.header(name, value);
    }
    let prepared =
        if request.body.is_empty() && (request.method == "GET" || request.method == "HEAD") {
            builder.build()
        } else {
            builder.body(request.body.clone())
        }
        .map_err(|e| NetworkFailure::Unreachable(format!("request not built: {}", kind_of(&e))))?;

    // Whether our timer aborted the request: then it was sent and not answered, which is
    // not "unreachable" (the provider may have processed it).
    let timed_out = std::rc::Rc::new(std::cell::Cell::new(false));
    let fired = timed_out.clone();
    let abort = Closure::once_into_js(move || {
        fired.set(true);
        controller.abort();
    });
    let timer = set_timeout(abort.unchecked_ref(), TIMEOUT_MS);
    let failure = |e: gloo_net::Error| {
        if timed_out.get() {
            NetworkFailure::TimedOut
        } else {
            NetworkFailure::Unreachable(kind_of(&e))
        }
    };
    let result = prepared.send().await;
    let response = match result {
        Ok(r) => r,
        Err(e) => {
            clear_timeout(&timer);
            return Err(failure(e));
        }
    };
    let headers: Vec<(String, String)> = response.headers().entries().collect();
    // The body is under the same timeout: a provider that sends headers and stalls is a
    // timeout too.
    let body = response.text().await.map_err(failure);
    clear_timeout(&timer);
    let body = body?;
    Ok((
        HttpResponse {
            status: response.status(),
            headers,
            body,
        },
        response.url(),
    ))
}

/// The kind of failure, without URLs or bodies.
fn kind_of(error: &gloo_net::Error) -> String {
    match error {
        gloo_net::Error::JsError(e) => e.name.clone(),
        _ => "GlooError".into(),
    }
}
