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

    /// A conflict with concurrent work (serialization failure, deadlock, a statement or
    /// lock timeout) that the same write may pass when tried again, as opposed to a
    /// refusal of the write itself (a constraint, bad bytes).
    pub fn is_transient(&self) -> bool {
        match self {
            StorageError::Cancelled(_) => true,
            StorageError::Query(DieselError::DatabaseError(kind, info)) => match kind {
                DatabaseErrorKind::SerializationFailure
                | DatabaseErrorKind::ReadOnlyTransaction => true,
                // PostgreSQL's deadlock (40P01) and cancellations (57014) have no kind of
                // their own in diesel; SQLite's busy database neither.
                DatabaseErrorKind::Unknown => {
                    let text = info.message();
                    [
                        "deadlock detected",
                        "canceling statement",
                        "lock timeout",
                        "database is locked",
                    ]
                    .iter()
                    .any(|t| text.contains(t))
                }
                _ => false,
            },
            other => other.is_unavailable(),
        }
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
