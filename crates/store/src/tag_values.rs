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
struct KeyRow {
    key: String,
    total: i64,
    distinct_values: i64,
}

#[derive(sqlx::FromRow)]
struct ValueRow {
    key: String,
    value: String,
    times_seen: i64,
}

/// Every tag key of the issue, by key, with its `top` most frequent values.
///
/// Two statements, each reading the issue's rows of `issue_tag_values` (a prefix of the primary
/// key) without sorting them all: the totals per key are a plain aggregate in key order, and
/// the top values are one bounded top-N per key (`ORDER BY times_seen DESC LIMIT top`, which
/// keeps only `top` rows while it scans). A window function over all rows sorted every value of
/// the issue and took a quarter of a second on an issue with 80 000 tag values (URLs, users).
pub async fn distribution(
    conn: &mut Conn<'_>,
    issue_id: i64,
    top: i64,
) -> Result<Vec<TagDistribution>, StoreError> {
    let keys: Vec<KeyRow> = Query::new(
        "SELECT key, CAST(SUM(times_seen) AS BIGINT) AS total, \
         CAST(COUNT(*) AS BIGINT) AS distinct_values \
         FROM issue_tag_values WHERE issue_id = $1 GROUP BY key ORDER BY key",
    )
    .bind(issue_id)
    .fetch_all(&mut *conn)
    .await?;
    if keys.is_empty() || top <= 0 {
        return Ok(keys
            .into_iter()
            .map(|k| TagDistribution {
                key: k.key,
                total: k.total,
                distinct: k.distinct_values,
                top: Vec::new(),
            })
            .collect());
    }
    let mut query = Query::builder();
    query.push("SELECT key, value, times_seen FROM (");
    for (n, key) in keys.iter().enumerate() {
        if n > 0 {
            query.push(" UNION ALL ");
        }
        query.push(
            "SELECT key, value, times_seen FROM (SELECT key, value, times_seen \
             FROM issue_tag_values WHERE issue_id = ",
        );
        query
            .push_bind(issue_id)
            .push(" AND key = ")
            .push_bind(key.key.as_str());
        query
            .push(" ORDER BY times_seen DESC, value LIMIT ")
            .push_bind(top);
        query.push(") top_").push_number(n);
    }
    // The outer sort orders the few kept rows (at most `top` per key) in the database's collation.
    query.push(") top_values ORDER BY key, times_seen DESC, value");
    let values: Vec<ValueRow> = query.fetch_all(conn).await?;
    let mut out: Vec<TagDistribution> = keys
        .into_iter()
        .map(|k| TagDistribution {
            key: k.key,
            total: k.total,
            distinct: k.distinct_values,
            top: Vec::new(),
        })
        .collect();
    let position: std::collections::HashMap<String, usize> = out
        .iter()
        .enumerate()
        .map(|(i, d)| (d.key.clone(), i))
        .collect();
    for row in values {
        if let Some(&i) = position.get(&row.key) {
            out[i].top.push((row.value, row.times_seen));
        }
    }
    Ok(out)
}
