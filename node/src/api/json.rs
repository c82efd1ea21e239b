//! JSON request bodies: parsed on the async worker that received them when small, on the
//! blocking pool when large.
//!
//! An ordinary request is a few KiB, and a thread hop would cost more than parsing it. A
//! large one (up to the API's body limit, 2 MiB: a message naming 40,000 recipients, a case
//! update with attachments) takes milliseconds to parse in an optimised build and about a
//! hundred in an unoptimised one; on an async worker that time is taken from every request
//! queued there, `/v1/status` included.

use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderMap};
use axum::Json;
use serde::de::DeserializeOwned;

/// Bodies up to this many bytes are parsed where they arrive.
pub(super) const PARSE_INLINE: usize = 64 * 1024;

/// Large bodies are parsed one at a time: a burst of them then takes at most one core from
/// the async workers (a node may have two), the others waiting their turn without a thread.
static LARGE: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);

/// Runs `parse` on `bytes`: inline up to [`PARSE_INLINE`] bytes, else on the blocking pool,
/// one large body at a time.
pub(crate) async fn parse<T, E>(bytes: Bytes, parse: fn(&[u8]) -> Result<T, E>) -> Result<T, E>
where
    T: Send + 'static,
    E: Send + 'static,
{
    if bytes.len() <= PARSE_INLINE {
        return parse(&bytes);
    }
    // Never closed, so acquiring cannot fail; were it closed, parsing would go on unqueued.
    let _turn = LARGE.acquire().await.ok();
    match tokio::task::spawn_blocking(move || parse(&bytes)).await {
        Ok(r) => r,
        // Parsing does not panic; if it did, the request fails as it would have inline.
        Err(e) => std::panic::resume_unwind(
            e.try_into_panic()
                .unwrap_or_else(|_| Box::new("request parsing was cancelled")),
        ),
    }
}

/// A JSON request body, taken exactly as [`axum::Json`] takes it (content type, body limit,
/// rejections) and parsed as [`parse`] does.
pub(crate) struct JsonBody<T>(pub T);

impl<T, S> FromRequest<S> for JsonBody<T>
where
    T: DeserializeOwned + Send + 'static,
    S: Send + Sync,
{
    type Rejection = JsonRejection;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !json_content_type(req.headers()) {
            // axum's own rejection for a missing or wrong content type.
            let Json(t) = Json::<T>::from_request(req, state).await?;
            return Ok(Self(t));
        }
        let bytes = Bytes::from_request(req, state).await?;
        parse(bytes, |b| {
            // Every request body is a JSON object; serde would also read a struct from an
            // array of its fields in order, which no document describes.
            if b.iter().find(|c| !c.is_ascii_whitespace()) != Some(&b'{') {
                return Json::<serde_json::Map<String, serde_json::Value>>::from_bytes(b)
                    .and_then(|_| Json::<T>::from_bytes(b))
                    .map(|Json(t)| t);
            }
            Json::<T>::from_bytes(b).map(|Json(t)| t)
        })
        .await
        .map(Self)
    }
}

fn json_content_type(headers: &HeaderMap) -> bool {
    let Some(ct) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = ct.split(';').next().unwrap_or("").trim();
    let Some((kind, sub)) = essence.split_once('/') else {
        return false;
    };
    kind.eq_ignore_ascii_case("application")
        && (sub.eq_ignore_ascii_case("json")
            || sub
                .rsplit_once('+')
                .is_some_and(|(_, suffix)| suffix.eq_ignore_ascii_case("json")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn json_content_types_are_those_axum_accepts() {
        let ct = |v: &'static str| {
            let mut h = HeaderMap::new();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static(v));
            json_content_type(&h)
        };
        assert!(ct("application/json"));
        assert!(ct("application/json; charset=utf-8"));
        assert!(ct("application/json;charset=utf-8"));
        assert!(ct("application/cloudevents+json"));
        assert!(!ct("text/json"));
        assert!(!ct("application/x-www-form-urlencoded"));
        assert!(!json_content_type(&HeaderMap::new()));
    }
}
