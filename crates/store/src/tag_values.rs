//! The tag value distribution of an issue (the "tags" panel: top values per key with their share).

use crate::StoreError;
use crate::query::{Conn, Query};

/// One tag key of an issue with its most frequent values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagDistribution {
    /// Tag key.
    pub key: String,
    /// Events carrying the key (each event has at most one value per key).
    pub total: i64,
    /// Distinct values.
    pub distinct: i64,
    /// The most frequent values with their event counts, most frequent first.
    pub top: Vec<(String, i64)>,
}

#[derive(sqlx::FromRow)]
struct Row {
    key: String,
    value: String,
    times_seen: i64,
    total: i64,
    distinct_values: i64,
}

/// Every tag key of the issue, by key, with its `top` most frequent values. One statement; it
/// reads the issue's rows of `issue_tag_values` (a prefix of the primary key) once.
pub async fn distribution(
    conn: &mut Conn<'_>,
    issue_id: i64,
    top: i64,
) -> Result<Vec<TagDistribution>, StoreError> {
    let rows: Vec<Row> = Query::new(
        "SELECT key, value, times_seen, total, distinct_values FROM ( \
           SELECT key, value, times_seen, \
             CAST(SUM(times_seen) OVER (PARTITION BY key) AS BIGINT) AS total, \
             CAST(COUNT(*) OVER (PARTITION BY key) AS BIGINT) AS distinct_values, \
             ROW_NUMBER() OVER (PARTITION BY key ORDER BY times_seen DESC, value) AS position \
           FROM issue_tag_values WHERE issue_id = $1 \
         ) ranked WHERE position <= $2 ORDER BY key, position",
    )
    .bind(issue_id)
    .bind(top)
    .fetch_all(conn)
    .await?;
    let mut out: Vec<TagDistribution> = Vec::new();
    for row in rows {
        match out.last_mut() {
            Some(last) if last.key == row.key => last.top.push((row.value, row.times_seen)),
            _ => out.push(TagDistribution {
                key: row.key,
                total: row.total,
                distinct: row.distinct_values,
                top: vec![(row.value, row.times_seen)],
            }),
        }
    }
    Ok(out)
}
