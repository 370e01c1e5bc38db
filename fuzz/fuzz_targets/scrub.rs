#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| embargo_tests::fuzzing::scrub(data));
