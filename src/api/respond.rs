//! Sending a body kept in memory: content negotiation, ETag and `304 Not Modified`.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};

use crate::compress::{Compressed, Encoding};

/// Answers `req` with `content`: `304` when its `If-None-Match` names any representation
/// of it, else the encoding the client accepts best, with its own ETag.
pub fn cached(
    req: &HttpRequest,
    content: &Compressed,
    content_type: &'static str,
    cache_control: &'static str,
) -> HttpResponse {
    let encoding = Encoding::negotiate(
        req.headers()
            .get(header::ACCEPT_ENCODING)
            .and_then(|v| v.to_str().ok()),
    );
    let not_modified = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| content.matches(v));
    let (encoding, body) = content.get(encoding);
    if not_modified {
        return HttpResponse::NotModified()
            .insert_header((header::ETAG, content.etag_for(encoding)))
            .insert_header((header::CACHE_CONTROL, cache_control))
            .insert_header((header::VARY, "Accept-Encoding"))
            .finish();
    }
    let mut res = HttpResponse::Ok();
    res.insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((header::ETAG, content.etag_for(encoding)))
        .insert_header((header::CACHE_CONTROL, cache_control))
        .insert_header((header::VARY, "Accept-Encoding"));
    if let Some(e) = encoding.header() {
        res.insert_header((header::CONTENT_ENCODING, e));
    }
    res.body(body)
}
