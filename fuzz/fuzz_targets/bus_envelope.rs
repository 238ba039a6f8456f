//! Fuzzes the Redis bus's envelope decoder, and encode-decode round trips: the properties in
//! `chatapp::properties::envelope`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| chatapp::properties::envelope::check(data));
