//! chatapp: a self-hostable team chat server. The binary's roles (`front`, `auth`, `ws`,
//! `all`) are actix `configure` functions over the shared modules below.

pub mod accounts;
pub mod auth;
pub mod cli;
pub mod clients;
pub mod commands;
pub mod config;
pub mod domain;
pub mod front;
pub mod http;
pub mod passwords;
#[cfg(any(test, fuzzing))]
pub mod properties;
pub mod push;
pub mod server;
pub mod storage;
pub mod telemetry;
pub mod tokens;
pub mod ws;
