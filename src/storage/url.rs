//! Which backend a database URL names, decided by its scheme (never by trial).

use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};

/// A database location: PostgreSQL by URL (which may hold a password), SQLite by file path.
#[derive(Clone)]
pub enum DbUrl {
    Postgres(SecretString),
    Sqlite(PathBuf),
}

impl DbUrl {
    /// `postgres://` or `postgresql://` → PostgreSQL; `sqlite://PATH` or a plain path → SQLite.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err("is empty".into());
        }
        if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            url::Url::parse(raw).map_err(|e| format!("is not a valid PostgreSQL URL ({e})"))?;
            return Ok(DbUrl::Postgres(SecretString::from(raw.to_owned())));
        }
        if let Some(path) = raw.strip_prefix("sqlite://") {
            let path = path.split('?').next().unwrap_or_default();
            if path.is_empty() || path == ":memory:" {
                return Err(
                    "must name a SQLite file (an in-memory database is not shared by a pool)"
                        .into(),
                );
            }
            return Ok(DbUrl::Sqlite(PathBuf::from(path)));
        }
        if let Some((scheme, _)) = raw.split_once("://") {
            return Err(format!(
                "has the unsupported scheme `{scheme}://` (use postgres://, postgresql:// or sqlite://)"
            ));
        }
        if raw == ":memory:" {
            return Err(
                "must name a SQLite file (an in-memory database is not shared by a pool)".into(),
            );
        }
        Ok(DbUrl::Sqlite(PathBuf::from(raw)))
    }

    pub fn sqlite(path: &Path) -> Self {
        DbUrl::Sqlite(path.to_owned())
    }

    pub fn backend(&self) -> Backend {
        match self {
            DbUrl::Postgres(_) => Backend::Postgres,
            DbUrl::Sqlite(_) => Backend::Sqlite,
        }
    }

    /// The string diesel connects with. Holds the password: never log it.
    pub(crate) fn connect_string(&self) -> String {
        match self {
            DbUrl::Postgres(url) => url.expose_secret().to_owned(),
            DbUrl::Sqlite(path) => path.to_string_lossy().into_owned(),
        }
    }

    /// A form that is safe to print: no user name, no password, no query.
    pub fn redacted(&self) -> String {
        match self {
            DbUrl::Postgres(url) => match url::Url::parse(url.expose_secret()) {
                Ok(u) => format!(
                    "{}://{}{}{}",
                    u.scheme(),
                    u.host_str().unwrap_or(""),
                    u.port().map(|p| format!(":{p}")).unwrap_or_default(),
                    u.path()
                ),
                Err(_) => "postgres://<invalid>".into(),
            },
            DbUrl::Sqlite(path) => format!("sqlite://{}", path.display()),
        }
    }
}

impl std::fmt::Debug for DbUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Backend::Postgres => "postgresql",
            Backend::Sqlite => "sqlite",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheme_picks_backend() {
        let pg = DbUrl::parse("postgres://bob:hunter2@db.example:5432/chat?sslmode=disable");
        let pg = pg.map(|u| (u.backend(), u.redacted()));
        assert_eq!(
            pg,
            Ok((Backend::Postgres, "postgres://db.example:5432/chat".into()))
        );
        assert_eq!(
            DbUrl::parse("postgresql://localhost/x").map(|u| u.backend()),
            Ok(Backend::Postgres)
        );
        assert_eq!(
            DbUrl::parse("sqlite:///var/lib/chatapp/chat.db").map(|u| u.connect_string()),
            Ok("/var/lib/chatapp/chat.db".into())
        );
        assert_eq!(
            DbUrl::parse("data/chat.db").map(|u| u.connect_string()),
            Ok("data/chat.db".into())
        );
        assert!(DbUrl::parse("mysql://root@localhost/db").is_err());
        assert!(DbUrl::parse("sqlite://:memory:").is_err());
        assert!(DbUrl::parse("").is_err());
    }

    #[test]
    fn debug_never_shows_the_password() {
        let url = DbUrl::parse("postgres://bob:hunter2@db/chat").map(|u| format!("{u:?}"));
        assert_eq!(url, Ok("postgres://db/chat".into()));
    }
}
