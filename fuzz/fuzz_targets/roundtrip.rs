#![no_main]
//! cargo-fuzz target: see `mio_zookeeper::fuzzing::roundtrip`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| mio_zookeeper::fuzzing::roundtrip(data));
