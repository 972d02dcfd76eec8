#![no_main]
//! cargo-fuzz target: see `mio_zookeeper::fuzzing::decode_reply`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| mio_zookeeper::fuzzing::decode_reply(data));
