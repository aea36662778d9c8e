//! `GET /api/devices/{id}/metrics`: raw or bucketed points of one series.

use crate::caller::Caller;
use crate::devices::visible_device;
use crate::error::{ApiError, commit};
use crate::state::ApiState;
use actix_web::{HttpResponse, web};
use centinela_model::MetricName;
use centinela_model::time::parse_timestamp;
use centinela_storage::metrics;
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

/// Raw points returned at most per request.
const MAX_RAW_POINTS: i64 = 10_000;

/// Buckets one request may ask for (`(to - from) / bucket`): past it, 400 naming `bucket`,
/// before any database work (a one-second bucket over a year is 31 million groups).
pub const MAX_BUCKETS: i64 = 10_000;

/// Refuses a bucket width that cuts `from..to` into more than [`MAX_BUCKETS`] buckets.
fn check_bucket_count(
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    width: Duration,
) -> Result<(), ApiError> {
    let span = (to - from).num_milliseconds();
    let width_ms = width.num_milliseconds().max(1);
    let buckets = span.div_euclid(width_ms) + i64::from(span.rem_euclid(width_ms) > 0);
    if buckets > MAX_BUCKETS {
        return Err(ApiError::field(
            "bucket",
            format!(
                "from..to holds {buckets} buckets of this width; at most {MAX_BUCKETS} per query (widen bucket or narrow from/to)"
            ),
        ));
    }
    Ok(())
}

/// Query of the metrics endpoint.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MetricsQuery {
    pub name: String,
    pub from: Option<String>,
    pub to: Option<String>,
    pub bucket: Option<String>,
}

/// Parses a bucket width `<n><s|m|h|d>` (e.g. `30s`, `1m`, `5m`, `1h`, `1d`).
pub fn parse_bucket(text: &str) -> Option<Duration> {
    let unit = text.chars().last()?;
    let count: i64 = text[..text.len() - unit.len_utf8()].parse().ok()?;
    if count <= 0 || count > 10_000 {
        return None;
    }
    match unit {
        's' => Some(Duration::seconds(count)),
        'm' => Some(Duration::minutes(count)),
        'h' => Some(Duration::hours(count)),
        'd' => Some(Duration::days(count)),
        _ => None,
    }
}

/// Parses a query timestamp: RFC 3339, or epoch milliseconds as digits.
pub fn parse_query_time(text: &str) -> Option<DateTime<Utc>> {
    let value = match text.parse::<i64>() {
        Ok(ms) => Value::from(ms),
        Err(_) => Value::from(text),
    };
    parse_timestamp(&value)
}

pub(crate) fn time_param(
    field: &str,
    text: Option<&str>,
    default: DateTime<Utc>,
) -> Result<DateTime<Utc>, ApiError> {
    match text {
        None | Some("") => Ok(default),
        Some(text) => parse_query_time(text).ok_or_else(|| {
            ApiError::field(
                field,
                format!("{field} must be RFC 3339 or epoch milliseconds"),
            )
        }),
    }
}

/// `GET /api/devices/{id}/metrics?name=&from=&to=&bucket=`.
pub async fn series(
    state: web::Data<ApiState>,
    caller: Caller,
    id: web::Path<Uuid>,
    query: web::Query<MetricsQuery>,
) -> Result<HttpResponse, ApiError> {
    let name =
        MetricName::parse(&query.name).map_err(|e| ApiError::field("name", e.to_string()))?;
    let now = Utc::now();
    let to = time_param("to", query.to.as_deref(), now)?;
    let from = time_param("from", query.from.as_deref(), to - Duration::hours(1))?;
    if from >= to {
        return Err(ApiError::field("from", "from must be before to"));
    }
    let bucket = match query.bucket.as_deref() {
        None | Some("") => None,
        Some(text) => Some(parse_bucket(text).ok_or_else(|| {
            ApiError::field("bucket", "bucket must look like 30s, 1m, 5m, 1h or 1d")
        })?),
    };
    if let Some(width) = bucket {
        check_bucket_count(from, to, width)?;
    }
    let mut tx = state.store.begin(caller.scope()).await?;
    let device = visible_device(&mut tx, &caller, id.into_inner()).await?;
    let points = match bucket {
        None => Points::Raw(
            metrics::query_raw(&mut tx, device.id, name.as_str(), from, to, MAX_RAW_POINTS).await?,
        ),
        Some(width) => Points::Buckets(
            metrics::query_buckets(&mut tx, device.id, name.as_str(), from, to, width).await?,
        ),
    };
    commit(tx).await?;
    Ok(HttpResponse::Ok().json(Series { points }))
}

/// `GET /api/devices/{id}/metrics` answer.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Series {
    pub points: Points,
}

/// Raw points, or buckets when `bucket` was given.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum Points {
    Raw(Vec<metrics::Point>),
    Buckets(Vec<metrics::Bucket>),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_parse_units_and_reject_nonsense() {
        assert_eq!(parse_bucket("30s"), Some(Duration::seconds(30)));
        assert_eq!(parse_bucket("1m"), Some(Duration::minutes(1)));
        assert_eq!(parse_bucket("5m"), Some(Duration::minutes(5)));
        assert_eq!(parse_bucket("1h"), Some(Duration::hours(1)));
        assert_eq!(parse_bucket("1d"), Some(Duration::days(1)));
        for bad in [
            "",
            "m",
            "0m",
            "-1m",
            "1x",
            "1.5m",
            "1 m",
            "ñ",
            "99999999999999999999s",
        ] {
            assert_eq!(parse_bucket(bad), None, "{bad}");
        }
    }

    #[test]
    fn bucket_count_is_capped_and_names_the_parameter() {
        let from: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
        let minute = Duration::minutes(1);
        assert!(check_bucket_count(from, from + minute * 10_000, minute).is_ok());
        let over = check_bucket_count(from, from + minute * 10_000 + Duration::seconds(1), minute);
        assert!(
            matches!(over, Err(ApiError::BadRequest { field: Some(ref f), .. }) if f == "bucket")
        );
        assert!(
            check_bucket_count(from, from + Duration::days(365), Duration::seconds(1)).is_err()
        );
    }

    #[test]
    fn query_times_accept_rfc3339_and_epoch_millis() {
        let a = parse_query_time("2026-11-22T10:00:00Z").unwrap();
        let b = parse_query_time(&a.timestamp_millis().to_string()).unwrap();
        assert_eq!(a, b);
        assert!(parse_query_time("ayer").is_none());
    }
}
