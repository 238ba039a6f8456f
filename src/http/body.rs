//! Reading a request body by hand, after the handler has checked who is asking (an
//! extractor would read it first, and answer a bad body before a missing credential).

use actix_web::web;
use futures_util::StreamExt;

use super::ApiError;

/// The body, up to `max` bytes (413 past that).
pub async fn read_limited(mut payload: web::Payload, max: usize) -> Result<web::Bytes, ApiError> {
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::BadRequest(format!("reading the body: {e}")))?;
        if body.len() + chunk.len() > max {
            return Err(ApiError::PayloadTooLarge(format!(
                "the body may be at most {max} bytes"
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// The body as JSON of type `T` (400 when it is not).
pub async fn read_json<T: serde::de::DeserializeOwned>(
    payload: web::Payload,
    max: usize,
) -> Result<T, ApiError> {
    let body = read_limited(payload, max).await?;
    serde_json::from_slice(&body).map_err(|e| ApiError::BadRequest(format!("malformed body: {e}")))
}
