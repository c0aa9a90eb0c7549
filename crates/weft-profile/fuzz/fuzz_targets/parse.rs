//! Every form's parser on arbitrary bytes: must return Ok or Err, never
//! panic, and never allocate without bound (gzip output capped small here).
#![no_main]

use libfuzzer_sys::fuzz_target;
use weft_model::SourceForm;
use weft_profile::{parse_as_with, parse_with, Limits};

fuzz_target!(|data: &[u8]| {
    let limits = Limits { max_decompressed: 16 << 20, ..Limits::default() };
    if let Ok(s) = parse_with(data, limits) {
        // Whatever parses must be self-consistent.
        for r in &s.records {
            assert!(s.form != SourceForm::Debug2 || (r.count == 1 && r.ids.len() == 1));
        }
    }
    for form in [SourceForm::Debug2, SourceForm::Debug1, SourceForm::Pprof] {
        let _ = parse_as_with(form, data, limits);
    }
});
