#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| embargo_tests::fuzzing::securitytxt_parse(data));
