use clap::Parser;

fn main() -> std::process::ExitCode {
    chatapp::commands::run(chatapp::cli::Cli::parse())
}
