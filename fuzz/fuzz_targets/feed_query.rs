//! Fuzzes the chat_history and events query strings: the properties in
//! `chatapp::properties::feed_query`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| chatapp::properties::feed_query::check(data));
