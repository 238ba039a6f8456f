use diesel::result::{DatabaseErrorKind, Error as DieselError};

/// What can go wrong in the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("the database is unreachable: {0}")]
    Unavailable(String),
    #[error("database query failed: {0}")]
    Query(#[from] DieselError),
    #[error("database migration failed: {0}")]
    Migration(String),
    #[error("the database schema is behind this binary: run `chatapp migrate` (pending: {0})")]
    SchemaBehind(String),
    #[error("the database work was cancelled: {0}")]
    Cancelled(String),
    #[error("internal storage error: {0}")]
    Internal(String),
}

impl StorageError {
    /// A unique constraint refused the write (a name taken, a client id reused).
    pub fn is_unique_violation(&self) -> bool {
        matches!(
            self,
            StorageError::Query(DieselError::DatabaseError(
                DatabaseErrorKind::UniqueViolation,
                _
            ))
        )
    }

    /// The database could not be reached, as opposed to refusing a statement.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            StorageError::Unavailable(_)
                | StorageError::Query(DieselError::DatabaseError(
                    DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
                    _,
                ))
        )
    }
}

impl From<r2d2::Error> for StorageError {
    fn from(e: r2d2::Error) -> Self {
        StorageError::Unavailable(e.to_string())
    }
}
