//! The subcommands: load settings, start logging, hand over.

pub mod admin;
mod demo_data;
pub mod keygen;
pub mod migrate;
pub mod seed;

use std::process::ExitCode;

use crate::cli::{Cli, Command};
use crate::config::Settings;
use crate::server::{Application, Role};

pub fn run(cli: Cli) -> ExitCode {
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = crate::telemetry::init(&settings.log) {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    let outcome = match cli.command {
        Command::Front(opts) => serve(Role::Front, settings, opts.bind),
        Command::Auth(opts) => serve(Role::Auth, settings, opts.bind),
        Command::Ws(opts) => serve(Role::Ws, settings, opts.bind),
        Command::All(opts) => serve(Role::All, settings, opts.bind),
        Command::Migrate => migrate::run(&settings),
        Command::Seed => seed::run(&settings),
        Command::Keygen(opts) => keygen::run(&opts),
        Command::Admin(command) => admin::run(&settings, &command),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn serve(role: Role, settings: Settings, bind: Option<String>) -> anyhow::Result<()> {
    actix_web::rt::System::new().block_on(async move {
        let app = Application::build(role, &settings, bind.as_deref()).await?;
        app.run_until_stopped().await?;
        tracing::info!(role = role.name(), "stopped");
        Ok(())
    })
}
