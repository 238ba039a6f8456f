//! The command line: one variant per subcommand.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

const CONFIG_HELP: &str = "\
CONFIGURATION
  Built-in defaults, then a TOML file (--config PATH, else ./chatapp.toml if present),
  then environment variables CHATAPP__SECTION__KEY (DATABASE_URL is honoured too).
  Keys (TOML `[section] key = ...`, or the environment variable shown):
    CHATAPP__DATA_DIR                  default SQLite file and generated keys [data]
    CHATAPP__DATABASE__URL             postgres://..., sqlite://PATH or a path [<data_dir>/chatapp.db]
    CHATAPP__DATABASE__POOL_SIZE       connections in the pool [8]
    CHATAPP__ALL__BIND                 address of `all` [127.0.0.1:8080]
    CHATAPP__FRONT__BIND               address of `front` [127.0.0.1:5000]
    CHATAPP__AUTH__BIND                address of `auth` [127.0.0.1:5001]
    CHATAPP__WS__BIND                  address of `ws` [127.0.0.1:5002]
    CHATAPP__AUTH__SIGNING_KEY_FILE    Ed25519 private key (PKCS#8 PEM) held by `auth`
    CHATAPP__AUTH__BCRYPT_COST         bcrypt cost of new password hashes [12]
    CHATAPP__AUTH__REGISTRATION        invite, open or closed (the first account is the admin) [invite]
    CHATAPP__HTTP__TRUSTED_PROXIES     proxies whose X-Forwarded-For is believed [none]
    CHATAPP__JWT__PUBLIC_KEY_FILE      the matching public key, for `front` and `ws`
    CHATAPP__FRONT__AUTH_URL           where `front` reaches `auth` when split
    CHATAPP__WS__FRONT_URL             where `ws` reaches `front` when split
    CHATAPP__INTERNAL__TOKEN           the service credential `ws` presents to `front`
    CHATAPP__BUS__REDIS_URL            Redis for fan-out between `ws` nodes [in-process]
    CHATAPP__LOG__FILTER               tracing filter, RUST_LOG wins [info]
    CHATAPP__LOG__FORMAT               text or json [text]
  The full list, with every default, is in docs/configuration.md.";

#[derive(Debug, Parser)]
#[command(
    name = "chatapp",
    version,
    about = "Self-hostable team chat: web UI, auth API and WebSocket server in one binary",
    after_long_help = CONFIG_HELP
)]
pub struct Cli {
    /// TOML configuration file [default: ./chatapp.toml if it exists]
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the web UI (pages, static files) and the REST API under /api
    Front(ServeOpts),
    /// Serve the JSON auth API under /auth/api (registration, login, tokens)
    Auth(ServeOpts),
    /// Serve the WebSocket endpoint under /ws (needs no database)
    Ws(ServeOpts),
    /// Serve front, auth and ws in one process on one port (the single-machine default);
    /// applies pending migrations and creates the data directory and signing key if missing
    All(ServeOpts),
    /// Apply pending database migrations and exit (safe to run again)
    Migrate,
    /// Load demo data (rooms, user1..user25 / hello1..hello25, ~1000 messages) and exit;
    /// running it again changes nothing
    Seed,
    /// Write a fresh Ed25519 token-signing key pair into DIR and exit
    Keygen(KeygenOpts),
    /// Manage the workspace without a browser: users, roles, the join code
    #[command(subcommand)]
    Admin(AdminCommand),
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create an account; the password is read from standard input
    CreateUser {
        username: String,
        /// admin, member or bot (the first account ever is always admin)
        #[arg(long, default_value = "member")]
        role: String,
    },
    /// Set a user's password, read from standard input
    SetPassword { username: String },
    /// Give a user the role admin, member or bot
    SetRole { username: String, role: String },
    /// Deactivate a user: no more sign-ins, and their sessions end
    Deactivate { username: String },
    /// Print the workspace join code (people register at /join/<code>)
    JoinCode {
        /// Replace the code first; the old one stops working
        #[arg(long)]
        rotate: bool,
    },
}

#[derive(Debug, Args)]
pub struct ServeOpts {
    /// Address to listen on, HOST:PORT (port 0 picks a free one); overrides the config
    #[arg(long, value_name = "HOST:PORT")]
    pub bind: Option<String>,
}

#[derive(Debug, Args)]
pub struct KeygenOpts {
    /// Directory for jwt_ed25519.pem (private, mode 0600) and jwt_ed25519.pub.pem
    pub dir: PathBuf,
    /// Replace key files that already exist
    #[arg(long)]
    pub force: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn verify_cli() {
        Cli::command().debug_assert();
    }
}
