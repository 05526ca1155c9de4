//! What the migrations built, described the same way on both engines, so a test can check that
//! the SQLite and PostgreSQL migrations agree: columns, primary keys, indexes (with their columns,
//! uniqueness and whether they are partial), foreign keys and the number of CHECK constraints.
//! Names are left out: each engine names automatic indexes and constraints its own way.

use crate::query::Query;
use crate::{Db, Engine, StoreError};

/// The schema of every table but the migrator's own, each list sorted.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Schema {
    /// `(table, column, nullable, coarse type)`.
    pub columns: Vec<(String, String, bool, String)>,
    /// `(table, key columns in order)`.
    pub primary_keys: Vec<(String, Vec<String>)>,
    /// Indexes other than primary keys.
    pub indexes: Vec<IndexShape>,
    /// Foreign keys.
    pub foreign_keys: Vec<ForeignKeyShape>,
    /// `(table, number of CHECK constraints)`, for tables that have any.
    pub checks: Vec<(String, usize)>,
}

/// An index by what it does, not by its name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct IndexShape {
    /// The indexed table.
    pub table: String,
    /// Key columns in order; `<expr>` for an expression.
    pub columns: Vec<String>,
    /// A unique index (or the index behind a UNIQUE constraint).
    pub unique: bool,
    /// Has a `WHERE` clause.
    pub partial: bool,
}

/// A foreign key by what it links.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ForeignKeyShape {
    /// The referencing table.
    pub table: String,
    /// The referencing columns.
    pub columns: Vec<String>,
    /// The referenced table.
    pub references: String,
    /// The referenced columns.
    pub referenced_columns: Vec<String>,
    /// `cascade`, `set null`, `restrict`, `set default` or `no action`.
    pub on_delete: String,
}

#[derive(sqlx::FromRow)]
struct ColumnRow {
    table_name: String,
    column_name: String,
    nullable: bool,
    data_type: String,
}

/// One column of a key, an index or a foreign key: `position` orders the columns of `name`.
#[derive(sqlx::FromRow)]
struct KeyPartRow {
    table_name: String,
    name: String,
    position: i64,
    column_name: String,
    unique_key: bool,
    partial: bool,
    target: String,
    target_column: String,
    on_delete: String,
}

#[derive(sqlx::FromRow)]
struct TableSqlRow {
    table_name: String,
    checks: i64,
}

const SQLITE_COLUMNS: &str = "SELECT m.name AS table_name, p.name AS column_name, \
     (p.\"notnull\" = 0 AND p.pk = 0) AS nullable, lower(p.type) AS data_type \
     FROM sqlite_master m, pragma_table_info(m.name) p \
     WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name NOT LIKE '_sqlx_%'";

const POSTGRES_COLUMNS: &str = "SELECT c.table_name::text AS table_name, c.column_name::text AS column_name, \
     (c.is_nullable = 'YES') AS nullable, c.data_type::text AS data_type \
     FROM information_schema.columns c \
     WHERE c.table_schema = current_schema() AND c.table_name NOT LIKE '_sqlx_%'";

const SQLITE_PRIMARY_KEYS: &str = "SELECT m.name AS table_name, m.name AS name, CAST(p.pk AS BIGINT) AS position, \
     p.name AS column_name, TRUE AS unique_key, FALSE AS partial, '' AS target, \
     '' AS target_column, '' AS on_delete \
     FROM sqlite_master m, pragma_table_info(m.name) p \
     WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name NOT LIKE '_sqlx_%' AND p.pk > 0";

const POSTGRES_PRIMARY_KEYS: &str = "SELECT t.relname::text AS table_name, i.relname::text AS name, \
     CAST(k.ord AS BIGINT) AS position, a.attname::text AS column_name, TRUE AS unique_key, \
     FALSE AS partial, '' AS target, '' AS target_column, '' AS on_delete \
     FROM pg_index ix JOIN pg_class t ON t.oid = ix.indrelid JOIN pg_class i ON i.oid = ix.indexrelid \
     JOIN pg_namespace n ON n.oid = t.relnamespace \
     CROSS JOIN LATERAL unnest(ix.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord) \
     JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum \
     WHERE n.nspname = current_schema() AND ix.indisprimary AND t.relname NOT LIKE '_sqlx_%'";

const SQLITE_INDEXES: &str = "SELECT m.name AS table_name, il.name AS name, CAST(ii.seqno AS BIGINT) AS position, \
     COALESCE(ii.name, '<expr>') AS column_name, (il.\"unique\" = 1) AS unique_key, \
     (il.partial = 1) AS partial, '' AS target, '' AS target_column, '' AS on_delete \
     FROM sqlite_master m, pragma_index_list(m.name) il, pragma_index_xinfo(il.name) ii \
     WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name NOT LIKE '_sqlx_%' \
     AND il.origin <> 'pk' AND ii.key = 1";

const POSTGRES_INDEXES: &str = "SELECT t.relname::text AS table_name, i.relname::text AS name, \
     CAST(k.ord AS BIGINT) AS position, COALESCE(a.attname::text, '<expr>') AS column_name, \
     ix.indisunique AS unique_key, (ix.indpred IS NOT NULL) AS partial, '' AS target, \
     '' AS target_column, '' AS on_delete \
     FROM pg_index ix JOIN pg_class t ON t.oid = ix.indrelid JOIN pg_class i ON i.oid = ix.indexrelid \
     JOIN pg_namespace n ON n.oid = t.relnamespace \
     CROSS JOIN LATERAL unnest(ix.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord) \
     LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum AND k.attnum > 0 \
     WHERE n.nspname = current_schema() AND NOT ix.indisprimary AND t.relname NOT LIKE '_sqlx_%' \
     AND k.ord <= ix.indnkeyatts";

const SQLITE_FOREIGN_KEYS: &str = "SELECT m.name AS table_name, CAST(f.id AS TEXT) AS name, \
     CAST(f.seq AS BIGINT) AS position, f.\"from\" AS column_name, FALSE AS unique_key, \
     FALSE AS partial, f.\"table\" AS target, COALESCE(f.\"to\", '') AS target_column, \
     lower(f.on_delete) AS on_delete \
     FROM sqlite_master m, pragma_foreign_key_list(m.name) f \
     WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name NOT LIKE '_sqlx_%'";

const POSTGRES_FOREIGN_KEYS: &str = "SELECT t.relname::text AS table_name, c.conname::text AS name, \
     CAST(k.ord AS BIGINT) AS position, a.attname::text AS column_name, FALSE AS unique_key, \
     FALSE AS partial, rt.relname::text AS target, ra.attname::text AS target_column, \
     CASE c.confdeltype WHEN 'c' THEN 'cascade' WHEN 'n' THEN 'set null' WHEN 'r' THEN 'restrict' \
     WHEN 'd' THEN 'set default' ELSE 'no action' END AS on_delete \
     FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid JOIN pg_class rt ON rt.oid = c.confrelid \
     JOIN pg_namespace n ON n.oid = t.relnamespace \
     CROSS JOIN LATERAL unnest(c.conkey, c.confkey) WITH ORDINALITY AS k(attnum, refnum, ord) \
     JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum \
     JOIN pg_attribute ra ON ra.attrelid = rt.oid AND ra.attnum = k.refnum \
     WHERE n.nspname = current_schema() AND c.contype = 'f'";

/// SQLite keeps CHECK constraints only in the table's SQL text, so they are counted there.
const SQLITE_CHECKS: &str = "SELECT name AS table_name, \
     CAST((length(upper(sql)) - length(replace(upper(sql), 'CHECK (', ''))) / 7 AS BIGINT) AS checks \
     FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_sqlx_%'";

const POSTGRES_CHECKS: &str = "SELECT t.relname::text AS table_name, CAST(COUNT(*) AS BIGINT) AS checks \
     FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid \
     JOIN pg_namespace n ON n.oid = t.relnamespace \
     WHERE n.nspname = current_schema() AND c.contype = 'c' GROUP BY t.relname";

/// Reads the schema of `db`'s primary.
pub async fn read(db: &Db) -> Result<Schema, StoreError> {
    let sqlite = db.engine() == Engine::Sqlite;
    let pick = |lite: &'static str, pg: &'static str| Query::new(if sqlite { lite } else { pg });
    let mut conn = db.write().await?;
    let columns: Vec<ColumnRow> = pick(SQLITE_COLUMNS, POSTGRES_COLUMNS)
        .fetch_all(&mut conn.conn())
        .await?;
    let primary: Vec<KeyPartRow> = pick(SQLITE_PRIMARY_KEYS, POSTGRES_PRIMARY_KEYS)
        .fetch_all(&mut conn.conn())
        .await?;
    let indexes: Vec<KeyPartRow> = pick(SQLITE_INDEXES, POSTGRES_INDEXES)
        .fetch_all(&mut conn.conn())
        .await?;
    let foreign: Vec<KeyPartRow> = pick(SQLITE_FOREIGN_KEYS, POSTGRES_FOREIGN_KEYS)
        .fetch_all(&mut conn.conn())
        .await?;
    let checks: Vec<TableSqlRow> = pick(SQLITE_CHECKS, POSTGRES_CHECKS)
        .fetch_all(&mut conn.conn())
        .await?;

    let mut schema = Schema {
        columns: columns
            .into_iter()
            .map(|c| {
                let kind = coarse_type(&c.data_type).to_owned();
                (c.table_name, c.column_name, c.nullable, kind)
            })
            .collect(),
        primary_keys: group_parts(primary)
            .into_iter()
            .map(|(first, columns, _)| (first.table_name, columns))
            .collect(),
        indexes: group_parts(indexes)
            .into_iter()
            .map(|(first, columns, _)| IndexShape {
                table: first.table_name,
                columns,
                unique: first.unique_key,
                partial: first.partial,
            })
            .collect(),
        foreign_keys: group_parts(foreign)
            .into_iter()
            .map(|(first, columns, targets)| ForeignKeyShape {
                table: first.table_name,
                columns,
                references: first.target,
                referenced_columns: targets,
                on_delete: first.on_delete,
            })
            .collect(),
        checks: checks
            .into_iter()
            .filter(|c| c.checks > 0)
            .map(|c| (c.table_name, c.checks as usize))
            .collect(),
    };
    schema.columns.sort();
    schema.primary_keys.sort();
    schema.indexes.sort();
    schema.foreign_keys.sort();
    schema.checks.sort();
    Ok(schema)
}

/// Groups key parts by `(table, name)` into the first part plus the columns (and referenced
/// columns) in position order.
fn group_parts(mut parts: Vec<KeyPartRow>) -> Vec<(KeyPartRow, Vec<String>, Vec<String>)> {
    parts.sort_by(|a, b| {
        (&a.table_name, &a.name, a.position).cmp(&(&b.table_name, &b.name, b.position))
    });
    let mut out: Vec<(KeyPartRow, Vec<String>, Vec<String>)> = Vec::new();
    for part in parts {
        match out.last_mut() {
            Some((first, columns, targets))
                if first.table_name == part.table_name && first.name == part.name =>
            {
                columns.push(part.column_name);
                targets.push(part.target_column);
            }
            _ => {
                let columns = vec![part.column_name.clone()];
                let targets = vec![part.target_column.clone()];
                out.push((part, columns, targets));
            }
        }
    }
    out
}

fn coarse_type(data_type: &str) -> &'static str {
    match data_type {
        "integer" | "bigint" => "int",
        "text" => "text",
        "boolean" => "bool",
        "blob" | "bytea" => "bytes",
        _ => "other",
    }
}
