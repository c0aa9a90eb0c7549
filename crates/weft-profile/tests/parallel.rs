//! Large `debug=2` dumps are split at goroutine boundaries and parsed on
//! several threads (the default); the result must equal the one-thread parse,
//! record for record, and errors must point at the same place.

use weft_profile::{parse_with, Limits};

/// A synthetic dump of `n` goroutines in a few shapes, well over the 4 MB
/// above which the parser splits.
fn dump(n: usize) -> String {
    let mut s = String::new();
    for i in 0..n {
        let (status, func, line) = match i % 4 {
            0 => ("chan receive", "main.worker", 21),
            1 => ("select, 3 minutes", "main.poll", 40),
            2 => ("sync.Mutex.Lock", "main.(*store).put", 77),
            _ => ("IO wait", "main.serve", 12),
        };
        s.push_str(&format!(
            "goroutine {} [{status}]:\nruntime.gopark(0x0?, 0x0?, 0x0?, 0x0?, 0x0?)\n\t/usr/local/go/src/runtime/proc.go:435 +0xce\n{func}(0xc000{i:06x})\n\t/src/app/main.go:{line} +0x4{}\ncreated by main.main in goroutine 1\n\t/src/app/main.go:9 +0x2a\n\n",
            i + 1,
            i % 10
        ));
    }
    s
}

#[test]
fn threads_give_the_same_records_as_one_thread() {
    let text = dump(40_000);
    assert!(text.len() > 8 << 20, "dump is only {} bytes", text.len());
    let one = parse_with(
        text.as_bytes(),
        Limits {
            threads: 1,
            ..Limits::default()
        },
    )
    .unwrap();
    for threads in [0, 2, 3, 4] {
        let many = parse_with(
            text.as_bytes(),
            Limits {
                threads,
                ..Limits::default()
            },
        )
        .unwrap();
        assert_eq!(many.records.len(), 40_000);
        assert_eq!(many.records, one.records, "threads={threads}");
    }
}

#[test]
fn errors_in_a_later_chunk_point_at_the_right_line() {
    let mut text = dump(40_000);
    // Damage a header three quarters of the way in.
    let at = text[text.len() * 3 / 4..].find("goroutine ").unwrap() + text.len() * 3 / 4;
    text.replace_range(at..at + "goroutine ".len() + 1, "goroutine x");
    let line = text[..at].matches('\n').count() + 1;
    for threads in [1, 2] {
        let err = parse_with(
            text.as_bytes(),
            Limits {
                threads,
                ..Limits::default()
            },
        );
        match err {
            Ok(s) => {
                // A damaged header may be skipped as noise; then both
                // paths must agree on what they kept.
                let one = parse_with(
                    text.as_bytes(),
                    Limits {
                        threads: 1,
                        ..Limits::default()
                    },
                )
                .unwrap();
                assert_eq!(s.records, one.records);
            }
            Err(e) => {
                let msg = e.to_string();
                assert!(
                    msg.contains(&format!("line {line}")),
                    "threads={threads}: {msg}"
                );
            }
        }
    }
}
