//! Fuzzes the token verifier against arbitrary, mutated and forged tokens: the properties in
//! `chatapp::properties::tokens`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| chatapp::properties::tokens::check(data));
