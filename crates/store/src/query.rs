//! One SQL text for both engines.
//!
//! A [`Query`] is SQL with `$1, $2, ...` placeholders (which sqlx accepts on SQLite too) plus
//! owned arguments. It runs on a [`Conn`], which is a SQLite or a PostgreSQL connection; rows
//! decode into any type that derives `sqlx::FromRow` (the derive is generic over the row type).
//! Dynamic SQL (`IN` lists, multi-row `VALUES`) is built with [`Query::push`] and
//! [`Query::push_bind`], which number placeholders automatically; `push` takes only literals.

use std::borrow::Cow;

use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::{AssertSqlSafe, PgConnection, SqliteConnection};

/// A borrowed connection of either engine.
pub enum Conn<'c> {
    /// An SQLite connection.
    Sqlite(&'c mut SqliteConnection),
    /// A PostgreSQL connection.
    Postgres(&'c mut PgConnection),
}

/// A row type that decodes on both engines (derive `sqlx::FromRow`).
pub trait BothRow:
    for<'r> sqlx::FromRow<'r, SqliteRow> + for<'r> sqlx::FromRow<'r, PgRow> + Send + Unpin
{
}

impl<T> BothRow for T where
    T: for<'r> sqlx::FromRow<'r, SqliteRow> + for<'r> sqlx::FromRow<'r, PgRow> + Send + Unpin
{
}

/// A bound argument.
#[derive(Debug, Clone)]
pub enum Arg {
    /// 64-bit integer.
    I64(Option<i64>),
    /// Text.
    Text(Option<String>),
    /// Bytes.
    Bytes(Vec<u8>),
    /// Boolean.
    Bool(bool),
}

impl From<i64> for Arg {
    fn from(v: i64) -> Self {
        Arg::I64(Some(v))
    }
}
impl From<Option<i64>> for Arg {
    fn from(v: Option<i64>) -> Self {
        Arg::I64(v)
    }
}
impl From<String> for Arg {
    fn from(v: String) -> Self {
        Arg::Text(Some(v))
    }
}
impl From<&str> for Arg {
    fn from(v: &str) -> Self {
        Arg::Text(Some(v.to_owned()))
    }
}
impl From<&String> for Arg {
    fn from(v: &String) -> Self {
        Arg::Text(Some(v.clone()))
    }
}
impl From<Option<String>> for Arg {
    fn from(v: Option<String>) -> Self {
        Arg::Text(v)
    }
}
impl From<Option<&str>> for Arg {
    fn from(v: Option<&str>) -> Self {
        Arg::Text(v.map(str::to_owned))
    }
}
impl From<Vec<u8>> for Arg {
    fn from(v: Vec<u8>) -> Self {
        Arg::Bytes(v)
    }
}
impl From<bool> for Arg {
    fn from(v: bool) -> Self {
        Arg::Bool(v)
    }
}

/// SQL text plus its arguments.
#[derive(Debug, Clone)]
pub struct Query {
    sql: Cow<'static, str>,
    args: Vec<Arg>,
    /// Byte ranges of the `$n` placeholders written by [`Query::push_bind`]. On SQLite they are
    /// sent as plain `?`: SQLite resolves a named parameter like `$n` by scanning a list of all
    /// parameter names, so binding thousands of them (a multi-row insert) is quadratic.
    generated: Vec<(usize, usize)>,
}

macro_rules! bind_all {
    ($query:expr, $args:expr) => {{
        let mut query = $query;
        for arg in $args {
            query = match arg {
                Arg::I64(v) => query.bind(v),
                Arg::Text(v) => query.bind(v),
                Arg::Bytes(v) => query.bind(v),
                Arg::Bool(v) => query.bind(v),
            };
        }
        query
    }};
}

impl Query {
    /// A query from static SQL whose `$n` placeholders are filled by [`Query::bind`] in order.
    pub fn new(sql: &'static str) -> Query {
        Query {
            sql: Cow::Borrowed(sql),
            args: Vec::new(),
            generated: Vec::new(),
        }
    }

    /// An empty query to build with [`Query::push`] and [`Query::push_bind`].
    pub fn builder() -> Query {
        Query {
            sql: Cow::Owned(String::new()),
            args: Vec::new(),
            generated: Vec::new(),
        }
    }

    /// Adds the argument for the next `$n` placeholder written in the SQL.
    pub fn bind(mut self, arg: impl Into<Arg>) -> Query {
        self.args.push(arg.into());
        self
    }

    /// Appends SQL text. Only literals (`&'static str`) are accepted, so a query can be built
    /// from fixed fragments and bound parameters alone: a value can never become SQL.
    pub fn push(&mut self, sql: &'static str) -> &mut Query {
        self.sql.to_mut().push_str(sql);
        self
    }

    /// Appends a number as SQL text (digits only, so it cannot change the statement's meaning),
    /// for the generated parts of a statement such as numbered aliases.
    pub fn push_number(&mut self, n: usize) -> &mut Query {
        self.sql.to_mut().push_str(&n.to_string());
        self
    }

    /// Appends a placeholder (`$n`) and its argument.
    pub fn push_bind(&mut self, arg: impl Into<Arg>) -> &mut Query {
        self.args.push(arg.into());
        let n = self.args.len();
        let sql = self.sql.to_mut();
        let start = sql.len();
        sql.push('$');
        sql.push_str(&n.to_string());
        self.generated.push((start, sql.len()));
        self
    }

    /// Appends `$a, $b, ...` for a list (for `IN (...)`); the caller writes the parentheses.
    pub fn push_bind_list<A: Into<Arg>>(
        &mut self,
        items: impl IntoIterator<Item = A>,
    ) -> &mut Query {
        for (i, item) in items.into_iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.push_bind(item);
        }
        self
    }

    /// Number of arguments bound so far.
    pub fn arg_count(&self) -> usize {
        self.args.len()
    }

    /// The SQL text (for logs and tests).
    pub fn sql(&self) -> &str {
        &self.sql
    }

    fn sql_safe(sql: Cow<'static, str>) -> AssertSqlSafe<Cow<'static, str>> {
        AssertSqlSafe(sql)
    }

    /// The SQL for `conn`'s engine: generated placeholders become `?` on SQLite.
    fn sql_for(
        sql: Cow<'static, str>,
        generated: &[(usize, usize)],
        conn: &Conn<'_>,
    ) -> AssertSqlSafe<Cow<'static, str>> {
        if generated.is_empty() || matches!(conn, Conn::Postgres(_)) {
            return Self::sql_safe(sql);
        }
        let mut out = String::with_capacity(sql.len());
        let mut last = 0;
        for &(start, end) in generated {
            out.push_str(&sql[last..start]);
            out.push('?');
            last = end;
        }
        out.push_str(&sql[last..]);
        Self::sql_safe(Cow::Owned(out))
    }

    /// Runs the statement; returns the number of rows affected.
    pub async fn execute(self, conn: &mut Conn<'_>) -> Result<u64, sqlx::Error> {
        let sql = Self::sql_for(self.sql, &self.generated, conn);
        Ok(match conn {
            Conn::Sqlite(c) => bind_all!(sqlx::query::<sqlx::Sqlite>(sql), self.args)
                .execute(&mut **c)
                .await?
                .rows_affected(),
            Conn::Postgres(c) => bind_all!(sqlx::query::<sqlx::Postgres>(sql), self.args)
                .execute(&mut **c)
                .await?
                .rows_affected(),
        })
    }

    /// Fetches every row.
    pub async fn fetch_all<T: BothRow>(self, conn: &mut Conn<'_>) -> Result<Vec<T>, sqlx::Error> {
        let sql = Self::sql_for(self.sql, &self.generated, conn);
        match conn {
            Conn::Sqlite(c) => {
                bind_all!(sqlx::query_as::<sqlx::Sqlite, T>(sql), self.args)
                    .fetch_all(&mut **c)
                    .await
            }
            Conn::Postgres(c) => {
                bind_all!(sqlx::query_as::<sqlx::Postgres, T>(sql), self.args)
                    .fetch_all(&mut **c)
                    .await
            }
        }
    }

    /// Fetches at most one row.
    pub async fn fetch_optional<T: BothRow>(
        self,
        conn: &mut Conn<'_>,
    ) -> Result<Option<T>, sqlx::Error> {
        let sql = Self::sql_for(self.sql, &self.generated, conn);
        match conn {
            Conn::Sqlite(c) => {
                bind_all!(sqlx::query_as::<sqlx::Sqlite, T>(sql), self.args)
                    .fetch_optional(&mut **c)
                    .await
            }
            Conn::Postgres(c) => {
                bind_all!(sqlx::query_as::<sqlx::Postgres, T>(sql), self.args)
                    .fetch_optional(&mut **c)
                    .await
            }
        }
    }

    /// Fetches exactly one row.
    pub async fn fetch_one<T: BothRow>(self, conn: &mut Conn<'_>) -> Result<T, sqlx::Error> {
        self.fetch_optional(conn)
            .await?
            .ok_or(sqlx::Error::RowNotFound)
    }
}

/// A single `BIGINT` column, for counts and ids.
#[derive(Debug, Clone, Copy, sqlx::FromRow)]
pub struct Int {
    /// The value.
    pub value: i64,
}
