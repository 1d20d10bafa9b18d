//! Parsing requests at the edge: JSON bodies, query strings, the client's address, tokens.

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest};
use bytes::{Bytes, BytesMut};
use futures_util::future::LocalBoxFuture;
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

use crate::config::SiteSettings;
use crate::error::ApiError;

/// Largest JSON body accepted.
pub const MAX_JSON_BYTES: usize = 64 * 1024;
/// How long a request body may take to arrive, once its headers have.
pub const BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// A JSON body: `application/json`, at most 64 KiB, UTF-8, into `T` with errors naming the field.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for JsonBody<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let raw = RawJson::from_request(req, payload);
        Box::pin(async move { parse_json(&raw.await?.0).map(JsonBody) })
    }
}

/// A JSON body's bytes, checked as [`JsonBody`] checks them (type, size, time) but not
/// parsed yet: for a handler that answers the same body from memory (`parse_json` reads
/// it otherwise, with the same errors).
pub struct RawJson(pub Bytes);

impl FromRequest for RawJson {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let content_type_ok = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<mime::Mime>().ok())
            .is_some_and(|m| {
                (m.type_() == mime::APPLICATION
                    && (m.subtype() == mime::JSON || m.suffix() == Some(mime::JSON)))
                    && m.get_param(mime::CHARSET).is_none_or(|c| c == mime::UTF_8)
            });
        let declared_len = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let mut payload = payload.take();
        Box::pin(async move {
            if !content_type_ok {
                return Err(ApiError::new(
                    actix_web::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_media_type",
                    "Send the body as JSON with the header Content-Type: application/json.",
                ));
            }
            if declared_len.is_some_and(|n| n > MAX_JSON_BYTES as u64) {
                return Err(too_large());
            }
            // A client that stops sending halfway must not hold a worker's task forever.
            let read = async {
                let mut buf = BytesMut::new();
                while let Some(chunk) = payload.next().await {
                    let chunk = chunk.map_err(|e| {
                        ApiError::bad_request(
                            "unreadable_body",
                            format!("The request body could not be read: {e}"),
                        )
                    })?;
                    if buf.len() + chunk.len() > MAX_JSON_BYTES {
                        return Err(too_large());
                    }
                    buf.extend_from_slice(&chunk);
                }
                Ok(buf)
            };
            let buf = actix_web::rt::time::timeout(BODY_TIMEOUT, read)
                .await
                .map_err(|_| {
                    ApiError::new(
                        actix_web::http::StatusCode::REQUEST_TIMEOUT,
                        "body_timeout",
                        format!(
                            "The request body did not arrive within {} s.",
                            BODY_TIMEOUT.as_secs()
                        ),
                    )
                })??;
            Ok(RawJson(buf.freeze()))
        })
    }
}

fn too_large() -> ApiError {
    ApiError::new(
        actix_web::http::StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!(
            "The request body is larger than {} KiB.",
            MAX_JSON_BYTES / 1024
        ),
    )
}

/// JSON text into `T`: syntax errors are 400, a field of the wrong type or unknown is 422.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let text = std::str::from_utf8(bytes).map_err(|_| {
        ApiError::bad_request("invalid_utf8", "The request body is not valid UTF-8.")
    })?;
    if text.trim().is_empty() {
        return Err(ApiError::bad_request(
            "malformed_json",
            "The request body is empty; send a JSON object.",
        ));
    }
    let de = &mut serde_json::Deserializer::from_str(text);
    let value = serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => {
                let msg = inner.to_string();
                let msg = msg.split(" at line ").next().unwrap_or(&msg).to_owned();
                let field = if path == "." {
                    // serde names unknown and missing fields only in its message.
                    msg.strip_prefix("unknown field `")
                        .or_else(|| msg.strip_prefix("missing field `"))
                        .and_then(|r| r.split('`').next())
                        .map(str::to_owned)
                } else {
                    Some(path)
                };
                let mut err = ApiError::unprocessable("invalid_field", format!("{msg}."));
                if let Some(f) = field {
                    err = err.with_field(f);
                }
                err
            }
            _ => ApiError::bad_request(
                "malformed_json",
                format!("The request body is not valid JSON: {inner}."),
            ),
        }
    })?;
    Ok(value)
}

/// Query parameters, decoded strictly: invalid UTF-8 is a 400, not a replacement character.
#[derive(Debug)]
pub struct QueryParams(Vec<(String, String)>);

impl QueryParams {
    pub fn parse(req: &HttpRequest) -> Result<Self, ApiError> {
        Self::parse_str(req.query_string())
    }

    pub fn parse_str(query: &str) -> Result<Self, ApiError> {
        let mut pairs = Vec::new();
        for part in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = part.split_once('=').unwrap_or((part, ""));
            pairs.push((decode(k)?, decode(v)?));
        }
        Ok(QueryParams(pairs))
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn require(&self, key: &'static str) -> Result<&str, ApiError> {
        self.get(key).ok_or_else(|| {
            ApiError::unprocessable(
                "required",
                format!("The query parameter `{key}` is required."),
            )
            .with_field(key)
        })
    }
}

fn decode(s: &str) -> Result<String, ApiError> {
    let plus = s.replace('+', " ");
    percent_encoding::percent_decode_str(&plus)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|_| ApiError::bad_request("invalid_utf8", "The query string is not valid UTF-8."))
}

pub use super::client::client_ip;

/// The id in the path's `{id}`: a positive integer, or the 404 that `missing` makes.
pub fn path_id(req: &HttpRequest, missing: fn() -> ApiError) -> Result<i64, ApiError> {
    req.match_info()
        .get("id")
        .and_then(|s| s.parse::<i64>().ok())
        .filter(|n| *n > 0)
        .ok_or_else(missing)
}

/// The edit token from `Authorization: Bearer …`.
pub fn bearer_token(req: &HttpRequest) -> Result<String, ApiError> {
    let missing = || {
        ApiError::new(
            actix_web::http::StatusCode::UNAUTHORIZED,
            "missing_token",
            "Send the comment's edit token as `Authorization: Bearer TOKEN`.",
        )
    };
    let value = req
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or_else(missing)?;
    let text = value.to_str().map_err(|_| missing())?;
    let token = text
        .strip_prefix("Bearer ")
        .or_else(|| text.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty() && t.len() <= 256)
        .ok_or_else(missing)?;
    Ok(token.to_owned())
}

/// Browsers announce where a write comes from; refuse pages the site does not list.
pub fn check_write_origin(req: &HttpRequest, site: &SiteSettings) -> Result<(), ApiError> {
    if let Some(origin) = req.headers().get(header::ORIGIN) {
        let o = origin.to_str().unwrap_or("");
        if !site.origins.allows(o) {
            return Err(origin_refused());
        }
    }
    Ok(())
}

pub fn origin_refused() -> ApiError {
    ApiError::forbidden(
        "origin_not_allowed",
        "This page's origin is not among the site's allowed origins (the `origins` setting).",
    )
}

pub fn user_agent(req: &HttpRequest) -> Option<String> {
    let ua = req.headers().get(header::USER_AGENT)?.to_str().ok()?;
    Some(ua.chars().take(512).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct T {
        body: String,
        parent_id: Option<i64>,
    }

    #[test]
    fn json_errors_are_classified() {
        assert!(parse_json::<T>(br#"{"body":"x"}"#).is_ok());
        assert_eq!(parse_json::<T>(b"{").unwrap_err().status.as_u16(), 400);
        assert_eq!(parse_json::<T>(b"").unwrap_err().status.as_u16(), 400);
        assert_eq!(
            parse_json::<T>(b"\xff\xfe").unwrap_err().code,
            "invalid_utf8"
        );
        let e = parse_json::<T>(br#"{"body":5}"#).unwrap_err();
        assert_eq!((e.status.as_u16(), e.field.as_deref()), (422, Some("body")));
        let e = parse_json::<T>(br#"{"body":"x","parent_id":"a"}"#).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("parent_id"));
        let e = parse_json::<T>(br#"{"body":"x","bdy":1}"#).unwrap_err();
        assert_eq!((e.status.as_u16(), e.field.as_deref()), (422, Some("bdy")));
        let e = parse_json::<T>(br#"{}"#).unwrap_err();
        assert_eq!((e.status.as_u16(), e.field.as_deref()), (422, Some("body")));
        assert_eq!(
            parse_json::<T>(br#"{"body":"\ud800"}"#)
                .unwrap_err()
                .status
                .as_u16(),
            400
        );
    }

    #[test]
    fn queries_decode_strictly() {
        let q = QueryParams::parse_str("site=blog&slug=%2Fa%20b%2F&slug=c+d&empty=").unwrap();
        assert_eq!(q.get("site"), Some("blog"));
        assert_eq!(q.all("slug").collect::<Vec<_>>(), ["/a b/", "c d"]);
        assert_eq!(q.get("empty"), Some(""));
        assert!(q.get("nope").is_none());
        assert_eq!(q.require("nope").unwrap_err().status.as_u16(), 422);
        assert_eq!(
            QueryParams::parse_str("slug=%ff")
                .unwrap_err()
                .status
                .as_u16(),
            400
        );
        assert_eq!(
            QueryParams::parse_str("slug=%E2%82%AC")
                .unwrap()
                .get("slug"),
            Some("€")
        );
    }
}
