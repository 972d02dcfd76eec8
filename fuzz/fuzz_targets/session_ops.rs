#![no_main]
//! cargo-fuzz target: see `mio_zookeeper::fuzzing::session_ops`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| mio_zookeeper::fuzzing::session_ops(data));
