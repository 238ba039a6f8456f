//! Fuzzes the socket's frame reader: any bytes in any pieces, and client frames built to RFC 6455:
//! the properties in `chatapp::properties::ws_reader`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| chatapp::properties::ws_reader::check(data));
