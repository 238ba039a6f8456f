//! Fuzzes client frame parsing (parse, client_id_of): the properties in
//! `chatapp::properties::protocol`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| chatapp::properties::protocol::check(data));
