//! The store's error type.

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database refused or failed a statement.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A migration could not be applied.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A stored payload could not be decoded (corruption or a bug).
    #[error("stored payload is unreadable: {0}")]
    CorruptPayload(String),
    /// A stored value this version cannot read (corruption, or written by a newer version).
    #[error("stored value is invalid: {0}")]
    InvalidValue(String),
    /// A uniqueness rule was violated (e.g. a slug already taken).
    #[error("{0} already exists")]
    AlreadyExists(&'static str),
}

impl StoreError {
    /// Whether the error is a unique-constraint violation.
    pub fn is_unique_violation(&self) -> bool {
        match self {
            StoreError::Database(sqlx::Error::Database(e)) => e.is_unique_violation(),
            StoreError::AlreadyExists(_) => true,
            _ => false,
        }
    }

    /// For `map_err` on a statement that may break a uniqueness rule (a slug or an address
    /// taken): [`StoreError::AlreadyExists`] of `what` when it did, the error as it is otherwise.
    pub(crate) fn taken(what: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
        move |e| {
            let e = StoreError::from(e);
            if e.is_unique_violation() {
                StoreError::AlreadyExists(what)
            } else {
                e
            }
        }
    }
}
