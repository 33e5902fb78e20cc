//! HTTP as data: the requests the core asks its driver to send and the responses it is fed.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }
}

/// A response as the driver received it. A network failure (no response at all) is a
/// separate input, never a fake status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpResponse {
    pub fn new(status: u16, body: impl Into<String>) -> HttpResponse {
        HttpResponse {
            status,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    pub fn with_header(mut self, name: &str, value: &str) -> HttpResponse {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// `Retry-After` (RFC 9110 §10.2.3): delay-seconds or an HTTP-date. Returns milliseconds
/// from `now`; a date is taken on the server's clock, so it is compared with the response's
/// own `Date` header when there is one.
pub fn retry_after_ms(response: &HttpResponse, now_device_ms: u64) -> Option<u64> {
    let value = response.header("retry-after")?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(seconds.saturating_mul(1000));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    let at_ms = at.duration_since(std::time::UNIX_EPOCH).ok()?.as_millis() as u64;
    let reference = response
        .header("date")
        .and_then(|d| httpdate::parse_http_date(d.trim()).ok())
        .and_then(|d| d.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_millis() as u64)
        .unwrap_or(now_device_ms);
    Some(at_ms.saturating_sub(reference))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds_and_dates() {
        let r = HttpResponse::new(503, "").with_header("Retry-After", "120");
        assert_eq!(retry_after_ms(&r, 0), Some(120_000));
        let r = HttpResponse::new(503, "")
            .with_header("Date", "Sun, 06 Nov 1994 08:49:37 GMT")
            .with_header("Retry-After", "Sun, 06 Nov 1994 08:50:07 GMT");
        assert_eq!(retry_after_ms(&r, 1), Some(30_000));
        let r = HttpResponse::new(503, "").with_header("Retry-After", "soon");
        assert_eq!(retry_after_ms(&r, 0), None);
    }
}
