//! A built-in file of a program's page (the chat's, the inspector's), as
//! the `200 OK` that serves it.

use ws6455::Response;

/// A `200 OK` with a built-in file: never taken from a cache unchecked,
/// never read as another type than `content_type`, and the connection
/// closed after it. `extra` header fields go before `Connection`.
pub(crate) fn asset(content_type: &str, body: &str, extra: &[(&str, &str)]) -> Response {
    let length = body.len().to_string();
    let fields = [
        ("Content-Type", content_type),
        ("Content-Length", &length),
        ("Cache-Control", "no-cache"),
        ("X-Content-Type-Options", "nosniff"),
    ];
    let headers = fields
        .iter()
        .chain(extra)
        .chain(&[("Connection", "close")])
        .map(|(name, value)| ((*name).to_owned(), value.as_bytes().to_vec()))
        .collect();
    Response {
        status: 200,
        reason: "OK".to_owned(),
        headers,
        body: body.as_bytes().to_vec(),
    }
}
