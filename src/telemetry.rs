//! tracing set-up: an env filter (`RUST_LOG` wins over `log.filter`), text or JSON lines
//! on stderr.

use tracing_subscriber::EnvFilter;

use crate::config::{LogFormat, LogSettings};

pub fn init(settings: &LogSettings) -> Result<(), String> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(directives) if !directives.is_empty() => EnvFilter::try_new(&directives)
            .map_err(|e| format!("RUST_LOG is not a valid filter: {e}"))?,
        _ => EnvFilter::try_new(&settings.filter)
            .map_err(|e| format!("configuration key `log.filter` is not a valid filter: {e}"))?,
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    // A second initialisation (tests) keeps the first subscriber; that is fine.
    let _ = match settings.format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
    Ok(())
}
