//! CSV exports of lists (`?format=csv`), streamed page by page: each page is read in its own
//! short transaction under the caller's scope and written out before the next is read, so an
//! export of any size holds one page in memory and no connection between pages. Cells go
//! through [`csv_field`] (RFC 4180 quoting, formula leads neutralised).

use crate::error::ApiError;
use actix_web::HttpResponse;
use actix_web::web::Bytes;
use futures_util::stream;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

pub use crate::device_logs::csv_field;

/// Rows per page of an export.
pub const EXPORT_PAGE: i64 = 500;

/// One page of rows after a sort key.
pub type PageFuture<T> = Pin<Box<dyn Future<Output = Result<Vec<T>, ApiError>>>>;

/// A row's CSV line, or `None` to skip it.
pub type LineFn<T> = Box<dyn Fn(&T) -> Option<String>>;

/// What an export needs: how to read a page after a key, a row's key, and its CSV line
/// (`None` skips a row the caller may not see).
pub struct Export<T, K> {
    pub filename: String,
    pub header: &'static str,
    pub fetch: Box<dyn Fn(Option<K>) -> PageFuture<T>>,
    pub key: fn(&T) -> K,
    pub line: LineFn<T>,
}

enum Step<K> {
    Header,
    After(Option<K>),
    Done,
}

/// Joins cells into one CSV line (CRLF-terminated), each through [`csv_field`].
pub fn line(cells: &[&str]) -> String {
    let mut out = cells
        .iter()
        .map(|c| csv_field(c))
        .collect::<Vec<_>>()
        .join(",");
    out.push_str("\r\n");
    out
}

/// The streaming `200 text/csv` response of an export.
pub fn respond<T: 'static, K: Clone + 'static>(export: Export<T, K>) -> HttpResponse {
    let disposition = format!("attachment; filename=\"{}\"", export.filename);
    let export = Rc::new(export);
    let body = stream::unfold(Step::Header, move |step| {
        let export = Rc::clone(&export);
        async move {
            match step {
                Step::Done => None,
                Step::Header => Some((Ok(Bytes::from(export.header)), Step::After(None))),
                Step::After(after) => match (export.fetch)(after).await {
                    Err(error) => {
                        tracing::warn!(error = %error, "CSV export stopped.");
                        Some((Err(error), Step::Done))
                    }
                    Ok(rows) => {
                        let full = rows.len() as i64 >= EXPORT_PAGE;
                        let next = match (full, rows.last()) {
                            (true, Some(last)) => Step::After(Some((export.key)(last))),
                            _ => Step::Done,
                        };
                        let text: String = rows.iter().filter_map(|r| (export.line)(r)).collect();
                        Some((Ok(Bytes::from(text)), next))
                    }
                },
            }
        }
    });
    HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header(("Content-Disposition", disposition))
        .streaming(body)
}

/// Whether a list query asks for CSV: `format` absent or `json` → false, `csv` → true.
pub fn wants_csv(format: Option<&str>) -> Result<bool, ApiError> {
    match format {
        None | Some("") | Some("json") => Ok(false),
        Some("csv") => Ok(true),
        Some(_) => Err(ApiError::field("format", "format must be json or csv")),
    }
}
