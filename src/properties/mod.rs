//! Properties of the code that reads what others send: the socket's bytes, client frames,
//! Redis envelopes, tokens and the feeds' query strings. Each is a function of arbitrary
//! bytes that panics when a property fails.
//!
//! The fuzz targets in `fuzz/` call them (`cargo fuzz` builds with `--cfg fuzzing`); the
//! unit tests run each on its seed corpus (`fuzz/corpus/<target>`) and on a few thousand
//! seeded random and mutated inputs, so every `cargo test` checks them too. Not compiled
//! into the server.

pub mod envelope;
pub mod feed_query;
pub mod handshake;
pub mod protocol;
#[cfg(test)]
mod runner;
mod source;
pub mod tokens;
pub mod ws_reader;

pub use source::Source;
