//! Feeds arbitrary bytes to the decoder in chunks chosen by the input's
//! first byte and touches every event; any panic is a bug.
//! Seed it with Go's corpus: copy `$(go env GOROOT)/src/internal/trace/testdata/fuzz/FuzzReader`
//! seeds (decoded from their `[]byte(...)` form) into `fuzz/corpus/decode/`.
#![no_main]
use libfuzzer_sys::fuzz_target;
use weft_trace::{Decoder, Status};

fuzz_target!(|data: &[u8]| {
    let Some((&c, data)) = data.split_first() else { return };
    let chunk = 1 + (c as usize % 64) * 97;
    let mut d = Decoder::new();
    let mut fed = 0;
    let mut sink = Vec::new();
    loop {
        match d.advance() {
            Ok(Status::Event) => {
                sink.clear();
                let _ = d.event().write_go(&mut sink);
            }
            Ok(Status::NeedData) => {
                if fed >= data.len() {
                    d.finish();
                } else {
                    let n = chunk.min(data.len() - fed);
                    d.feed(&data[fed..fed + n]);
                    fed += n;
                }
            }
            Ok(Status::End) | Err(_) => break,
        }
    }
});
