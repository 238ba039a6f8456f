//! Fuzzes the socket take-over's 101 answer for any key, and the origin check: the properties in
//! `chatapp::properties::handshake`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| chatapp::properties::handshake::check(data));
