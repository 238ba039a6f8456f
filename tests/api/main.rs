//! The one integration-test binary: real servers on port 0, real SQLite files, a real
//! PostgreSQL (a fresh database per test), real processes of the `chatapp` binary.

// A failed unwrap is a failed test, which is what a test wants.
#![allow(clippy::unwrap_used)]

mod helpers;

mod auth;
mod browser;
mod browser_account;
mod browser_delivery;
mod browser_workspace;
mod bus;
mod chat;
mod cli;
mod deploy;
mod events;
mod faults;
mod health;
mod http_fuzz;
mod pages;
mod push;
mod rate_limits;
mod rehearsal;
mod rest;
mod sessions;
mod split;
mod storage;
mod workspace;
mod ws_limits;
mod ws_socket;
