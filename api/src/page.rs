//! One list shape for every list endpoint: `?limit=&cursor=`.
//!
//! `limit` defaults to [`DEFAULT_LIMIT`] and may not exceed [`MAX_LIMIT`] (over, under or not a
//! number → 400 naming `limit`). The body stays a bare JSON array; when more rows follow, the
//! response carries the next page's cursor in `X-Next-Cursor` and a `Link: <…>; rel="next"`
//! header with the same URL and that cursor. A cursor is opaque to clients: the sort key of the
//! last row of the page (keyset pagination, so pages stay consistent while rows are added),
//! base64url-encoded JSON. A cursor that does not decode → 400 naming `cursor`.

use crate::error::ApiError;
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use centinela_storage::Keyset;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Rows in a page when `limit` is absent.
pub const DEFAULT_LIMIT: i64 = 100;
/// The largest `limit` accepted.
pub const MAX_LIMIT: i64 = 1_000;
/// Longest cursor accepted, in characters (a sort key is far shorter).
const MAX_CURSOR: usize = 1_024;

/// The query of a list endpoint that has no filters of its own.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// A parsed page request: how many rows, and after which sort key.
#[derive(Debug, Clone)]
pub struct Page<K> {
    pub limit: i64,
    pub after: Option<K>,
}

impl<K: DeserializeOwned> Page<K> {
    /// Parses `limit` and `cursor` from a list query.
    pub fn parse(limit: Option<i64>, cursor: Option<&str>) -> Result<Page<K>, ApiError> {
        let limit = match limit {
            None => DEFAULT_LIMIT,
            Some(n) if (1..=MAX_LIMIT).contains(&n) => n,
            Some(_) => {
                return Err(ApiError::field(
                    "limit",
                    format!("limit must be between 1 and {MAX_LIMIT}"),
                ));
            }
        };
        let after =
            match cursor {
                None | Some("") => None,
                Some(text) => Some(decode(text).ok_or_else(|| {
                    ApiError::field("cursor", "cursor is not one this API returned")
                })?),
            };
        Ok(Page { limit, after })
    }
}

impl<K> Page<K> {
    /// Rows to fetch: one more than the page, to know whether another page follows.
    pub fn fetch(&self) -> i64 {
        self.limit + 1
    }
}

impl<K: Clone> Page<K> {
    /// What storage fetches for this page: [`Page::fetch`] rows after the cursor's key.
    pub fn keyset(&self) -> Keyset<K> {
        Keyset {
            limit: self.fetch(),
            after: self.after.clone(),
        }
    }
}

fn decode<K: DeserializeOwned>(text: &str) -> Option<K> {
    if text.len() > MAX_CURSOR {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn encode<K: Serialize>(key: &K) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(key).unwrap_or_default())
}

/// The response for a page fetched with [`Page::fetch`] rows: at most `limit` rows, the next
/// cursor (taken from the last row fetched, before `keep` filters what the caller may see),
/// and the `Link`/`X-Next-Cursor` headers.
pub fn respond<T, K>(
    req: &HttpRequest,
    rows: Vec<T>,
    limit: i64,
    key: impl Fn(&T) -> K,
    keep: impl Fn(&T) -> bool,
) -> HttpResponse
where
    T: Serialize,
    K: Serialize,
{
    let items = shape(rows, limit, key, keep);
    ok(req, &items.rows, items.next.as_deref())
}

/// A page's rows and next cursor, for handlers that transform rows before answering.
#[derive(Debug)]
pub struct Shaped<T> {
    pub rows: Vec<T>,
    pub next: Option<String>,
}

/// Cuts `rows` to `limit`, computes the next cursor, then keeps what the caller may see.
pub fn shape<T, K: Serialize>(
    mut rows: Vec<T>,
    limit: i64,
    key: impl Fn(&T) -> K,
    keep: impl Fn(&T) -> bool,
) -> Shaped<T> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let more = rows.len() > limit;
    rows.truncate(limit);
    let next = if more {
        rows.last().map(|r| encode(&key(r)))
    } else {
        None
    };
    rows.retain(keep);
    Shaped { rows, next }
}

/// `200` with `items` as a JSON array and, when `next` is set, the next-page headers.
pub fn ok<T: Serialize>(req: &HttpRequest, items: &[T], next: Option<&str>) -> HttpResponse {
    let mut res = HttpResponse::Ok();
    next_headers(&mut res, req, next);
    res.json(items)
}

/// Adds `X-Next-Cursor` and `Link: <…>; rel="next"` when another page follows.
pub fn next_headers(res: &mut HttpResponseBuilder, req: &HttpRequest, next: Option<&str>) {
    if let Some(cursor) = next {
        res.insert_header(("X-Next-Cursor", cursor.to_owned()));
        res.insert_header(("Link", format!("<{}>; rel=\"next\"", next_url(req, cursor))));
    }
}

/// The request's path and query with `cursor` replaced.
fn next_url(req: &HttpRequest, cursor: &str) -> String {
    let mut query: Vec<&str> = req
        .query_string()
        .split('&')
        .filter(|p| !p.is_empty() && !p.starts_with("cursor="))
        .collect();
    let pair = format!("cursor={cursor}");
    query.push(&pair);
    format!("{}?{}", req.path(), query.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn limits_are_bounded_and_named() {
        assert_eq!(Page::<i64>::parse(None, None).unwrap().limit, DEFAULT_LIMIT);
        assert_eq!(Page::<i64>::parse(Some(1000), None).unwrap().limit, 1000);
        for bad in [0, -1, 1001, i64::MAX] {
            let err = Page::<i64>::parse(Some(bad), None).unwrap_err();
            assert!(format!("{err:?}").contains("limit"), "{bad}: {err:?}");
        }
    }

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let key = (String::from("Oficina Ñuñoa"), uuid::Uuid::nil());
        let text = encode(&key);
        let page = Page::<(String, uuid::Uuid)>::parse(None, Some(&text)).unwrap();
        assert_eq!(page.after, Some(key));
        for bad in ["%%%", "AAAA", &"A".repeat(MAX_CURSOR + 4)] {
            let err = Page::<(String, uuid::Uuid)>::parse(None, Some(bad)).unwrap_err();
            assert!(format!("{err:?}").contains("cursor"), "{bad}: {err:?}");
        }
    }

    #[test]
    fn a_full_page_points_at_the_next_one() {
        let req = TestRequest::get()
            .uri("/api/alerts?state=firing&cursor=old&limit=2")
            .to_http_request();
        let shaped = shape(vec![1, 2, 3], 2, |n| *n, |_| true);
        assert_eq!(shaped.rows, vec![1, 2]);
        let next = shaped.next.clone().unwrap();
        assert_eq!(decode::<i32>(&next), Some(2));
        let res = ok(&req, &shaped.rows, shaped.next.as_deref());
        let link = res.headers().get("link").unwrap().to_str().unwrap();
        assert_eq!(
            link,
            format!("</api/alerts?state=firing&limit=2&cursor={next}>; rel=\"next\"")
        );
        let last = shape(vec![1, 2], 2, |n| *n, |_| true);
        assert!(last.next.is_none());
    }
}
