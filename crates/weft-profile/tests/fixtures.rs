//! Hand-written dumps for variants that are hard to provoke from a real
//! program: CRLF, log prefixes, truncation, register dumps, synctest
//! bubbles, `(durable)`, `(leaked)`, elided frames, ancestors, labels.
//! Plus error reporting and hostile protobuf input.

use weft_model::{Record, SourceForm, StateClass};
use weft_profile::{detect, parse, parse_with, Limits, ParseError};

fn fixture(name: &str) -> Vec<u8> {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn by_id(recs: &[Record], id: u64) -> &Record {
    recs.iter()
        .find(|r| r.ids == [id])
        .unwrap_or_else(|| panic!("no goroutine {id}"))
}

fn funcs(r: &Record) -> Vec<&str> {
    r.stack.iter().map(|f| f.func.as_str()).collect()
}

#[test]
fn variants() {
    let s = parse(&fixture("variants.txt")).unwrap();
    assert_eq!(s.form, SourceForm::Debug2);
    assert_eq!(s.records.len(), 7);

    let g33 = by_id(&s.records, 33);
    assert_eq!(
        (g33.status.as_str(), g33.class),
        ("running", StateClass::Running)
    );
    assert_eq!(
        funcs(g33),
        [
            "panic",
            "example.com/shop/cart.(*Cart).Checkout-fm",
            "example.com/my%2epkg/stream.Map[...]",
            "example.com/my%2epkg/stream.(*Pipe[...]).run"
        ]
    );
    assert_eq!(g33.stack[1].file, "/home/dev/shop/cart/cart.go");
    assert_eq!(g33.stack[1].line, 88);
    assert_eq!(g33.stack[1].pc, Some(0x6f12ad));
    // Inlined frames have no offset and no pc.
    assert_eq!((g33.stack[2].line, g33.stack[2].pc), (14, None));
    assert_eq!(
        g33.created_by.as_ref().unwrap().func,
        "example.com/my%2epkg/stream.Start"
    );
    assert_eq!(g33.created_by.as_ref().unwrap().line, 22);

    let g1 = by_id(&s.records, 1);
    assert_eq!(g1.status, "chan receive (nil chan)");
    assert_eq!(g1.class, StateClass::Blocked);
    assert_eq!(g1.wait_minutes, Some(12));
    assert!(g1.locked_to_thread);
    assert_eq!(g1.stack[0].file, "C:/Users/dev/go proj/main.go");
    assert_eq!(g1.stack[0].line, 31);
    assert!(g1.created_by.is_none());

    let g7 = by_id(&s.records, 7);
    assert_eq!((g7.status.as_str(), g7.wait_minutes), ("select", Some(3)));
    assert!(g7.frames_elided);
    assert_eq!(
        funcs(g7),
        ["main.(*server).loop"],
        "ancestor frames stay out of the stack"
    );
    assert_eq!(g7.created_by.as_ref().unwrap().func, "main.(*server).start");
    assert_eq!(
        g7.creator_id, None,
        "pre-1.21 `created by` has no goroutine id"
    );

    let g8 = by_id(&s.records, 8);
    assert_eq!(g8.status, "running");
    assert!(g8.stack.is_empty());
    assert_eq!(g8.created_by.as_ref().unwrap().line, 22);

    let g9 = by_id(&s.records, 9);
    assert_eq!((g9.status.as_str(), g9.leaked), ("sync.Mutex.Lock", true));
    assert!(g9.frames_elided);
    assert_eq!(g9.stack.len(), 3);

    let g10 = by_id(&s.records, 10);
    assert_eq!(g10.status, "IO wait");
    assert_eq!(g10.labels.get("req id").map(String::as_str), Some("a\"b\n"));
    assert_eq!(g10.labels.get("user").map(String::as_str), Some("alice"));

    let g11 = by_id(&s.records, 11);
    assert_eq!(g11.status, "select (no cases)");
    assert_eq!(
        g11.stack[0].func,
        "main.forever[go.shape.int, go.shape.string]"
    );
    assert_eq!(g11.stack[1].func, "main.main.func3");
}

#[test]
fn durable_and_synctest_bubbles() {
    let s = parse(&fixture("durable_synctest.txt")).unwrap();
    let st: Vec<(&str, StateClass, Option<u64>)> = s
        .records
        .iter()
        .map(|r| (r.status.as_str(), r.class, r.wait_minutes))
        .collect();
    assert_eq!(
        st,
        [
            ("chan receive (durable)", StateClass::Blocked, None),
            ("sleep (durable)", StateClass::Blocked, Some(2)),
            ("select (durable)", StateClass::Blocked, None),
            ("synctest.Run", StateClass::Blocked, None),
            ("sync.WaitGroup.Wait (durable)", StateClass::Blocked, None),
        ]
    );
    assert_eq!(s.records[0].creator_id, Some(18));
}

#[test]
fn log_prefixes_are_stripped() {
    let plain = parse(&fixture("durable_synctest.txt")).unwrap();
    let logged = parse(&fixture("log_stdlog.txt")).unwrap();
    assert_eq!(plain.records, logged.records);

    let glog = parse(&fixture("log_glog.txt")).unwrap();
    let g5 = by_id(&glog.records, 5);
    assert_eq!(g5.status, "chan send");
    assert_eq!(g5.stack[0].file, "/src/app/main.go");
    assert_eq!(g5.created_by.as_ref().unwrap().func, "main.main");
}

#[test]
fn crlf_line_endings() {
    let s = parse(&fixture("crlf.txt")).unwrap();
    let g5 = by_id(&s.records, 5);
    assert_eq!(g5.stack[0].file, "/src/app/main.go");
    assert_eq!(g5.stack[0].line, 9);
    assert_eq!(g5.created_by.as_ref().unwrap().line, 20);

    let a = parse(&fixture("debug1_variants.txt")).unwrap();
    let b = parse(&fixture("debug1_crlf.txt")).unwrap();
    assert_eq!(a.records, b.records);
}

#[test]
fn truncated_last_block_is_kept() {
    let s = parse(&fixture("truncated.txt")).unwrap();
    assert_eq!(s.records.len(), 2);
    let g6 = by_id(&s.records, 6);
    assert_eq!(funcs(g6), ["main.consume", "main.pipeline.func1"]);
    assert_eq!(
        g6.stack[1].file, "/src/ap",
        "a cut-off file line keeps what it has"
    );
    assert_eq!(g6.stack[1].line, 0);

    // Cut inside the function line: the partial frame is not a frame.
    let s = parse(&fixture("truncated_midframe.txt")).unwrap();
    assert_eq!(funcs(&s.records[0]), ["main.consume"]);
}

#[test]
fn register_dumps_and_signal_preamble_are_skipped() {
    let s = parse(&fixture("register_dump.txt")).unwrap();
    let ids: Vec<u64> = s.records.iter().map(|r| r.ids[0]).collect();
    assert_eq!(ids, [0, 1, 2, 0]);
    let g1 = by_id(&s.records, 1);
    assert_eq!(g1.status, "chan receive");
    assert_eq!(g1.wait_minutes, Some(4));
    assert_eq!(g1.stack.len(), 4);
    assert!(g1.stack.iter().all(|f| f.pc.is_some()));
    assert_eq!(by_id(&s.records, 2).class, StateClass::Idle);
    assert_eq!(
        s.records[3].stack.len(),
        1,
        "the register lines end the block"
    );
}

#[test]
fn debug1_variants() {
    let s = parse(&fixture("debug1_variants.txt")).unwrap();
    assert_eq!(s.form, SourceForm::Debug1);
    assert_eq!(s.total(), 12);
    let r = &s.records[0];
    assert_eq!(r.count, 7);
    assert_eq!(r.labels.get("req id").map(String::as_str), Some("a\"b"));
    assert_eq!(
        (r.status.as_str(), r.status_inferred),
        ("waiting", true),
        "runtime frames were hidden"
    );
    assert_eq!(s.records[1].status, "sync.WaitGroup.Wait");
    let last = &s.records[2];
    assert_eq!(last.stack[0].func, "??");
    assert_eq!(last.stack[0].pc, Some(0x4a1d00));
    assert_eq!(last.status, "running", "nothing hidden, nothing recognised");
}

fn err(input: &[u8]) -> ParseError {
    match parse(input) {
        Ok(s) => panic!("expected an error, got {} records", s.records.len()),
        Err(e) => e,
    }
}

#[test]
fn errors_say_where() {
    let e = err(b"panic: x\n\ngoroutine 12 [chan receive\nmain.f()\n");
    assert_eq!(e.line, Some(3));
    assert_eq!(e.offset, 10 + 14);
    assert!(
        e.to_string().starts_with("line 3 (byte 24): unterminated"),
        "{e}"
    );

    let e = err(b"goroutine 1 [running] trailing:\n");
    assert_eq!(e.line, Some(1));
    assert!(e.message.contains("expected `:`"), "{e}");

    let e = err(b"goroutine profile: total 3\n3 @ 0xzz\n");
    assert_eq!(e.line, Some(2));

    let e =
        err(b"goroutine profile: total 3\n3 @ 0x1\n#\t0x1\tmain.f+0x0\t/a.go:1\nwhat is this\n");
    assert_eq!((e.line, e.offset), (Some(4), 60));

    let e = err(b"hello world\n");
    assert_eq!(e.offset, 0);
    assert!(e.message.contains("not a goroutine dump"), "{e}");
    assert_eq!(detect(b"hello"), None);
}

// ---- protobuf: a tiny encoder to build hostile and hand-made profiles ----

fn varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}
fn field_varint(f: u64, v: u64, out: &mut Vec<u8>) {
    varint(f << 3, out);
    varint(v, out);
}
fn field_bytes(f: u64, b: &[u8], out: &mut Vec<u8>) {
    varint((f << 3) | 2, out);
    varint(b.len() as u64, out);
    out.extend_from_slice(b);
}

/// A goroutine profile with one sample of `count` goroutines in main.f -> runtime.chanrecv1 ... .
fn tiny_profile(sample_type: &str, count: u64) -> Vec<u8> {
    let strings = [
        "",
        sample_type,
        "count",
        "runtime.gopark",
        "runtime.chanrecv1",
        "main.f[go.shape.int]",
        "/a.go",
        "k",
        "v",
    ];
    let mut p = Vec::new();
    let mut vt = Vec::new();
    field_varint(1, 1, &mut vt);
    field_varint(2, 2, &mut vt);
    field_bytes(1, &vt, &mut p);
    let mut s = Vec::new();
    let mut locs = Vec::new();
    for id in [1u64, 2, 3] {
        varint(id, &mut locs);
    }
    field_bytes(1, &locs, &mut s); // packed
    field_varint(2, count, &mut s); // unpacked
    let mut lbl = Vec::new();
    field_varint(1, 7, &mut lbl);
    field_varint(2, 8, &mut lbl);
    field_bytes(3, &lbl, &mut s);
    field_bytes(2, &s, &mut p);
    for (id, func) in [(1u64, 3u64), (2, 4), (3, 5)] {
        let mut line = Vec::new();
        field_varint(1, id, &mut line);
        field_varint(2, 10 * id, &mut line);
        let mut loc = Vec::new();
        field_varint(1, id, &mut loc);
        field_varint(3, 0x1000 + id, &mut loc);
        field_bytes(4, &line, &mut loc);
        field_bytes(4, &loc, &mut p);
        let mut f = Vec::new();
        field_varint(1, id, &mut f);
        field_varint(2, func, &mut f);
        field_varint(4, 6, &mut f);
        field_bytes(5, &f, &mut p);
    }
    for st in strings {
        field_bytes(6, st.as_bytes(), &mut p);
    }
    p
}

fn gzip(b: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

#[test]
fn pprof_hand_made() {
    for raw in [
        tiny_profile("goroutine", 9),
        gzip(&tiny_profile("goroutine", 9)),
    ] {
        let s = parse(&raw).unwrap();
        assert_eq!(s.form, SourceForm::Pprof);
        let r = &s.records[0];
        assert_eq!(r.count, 9);
        assert_eq!(
            (r.status.as_str(), r.status_inferred),
            ("chan receive", true)
        );
        assert_eq!(r.stack[2].func, "main.f[...]");
        assert_eq!((r.stack[2].line, r.stack[2].pc), (30, Some(0x1003)));
        assert_eq!(r.labels.get("k").map(String::as_str), Some("v"));
    }
    let leak = parse(&gzip(&tiny_profile("goroutineleak", 2))).unwrap();
    assert_eq!(leak.form, SourceForm::LeakProfile);
    assert!(leak.records[0].leaked);

    let e = parse(&gzip(&tiny_profile("cpu", 2))).unwrap_err();
    assert!(e.message.contains("not a goroutine profile"), "{e}");
}

#[test]
fn gzipped_text_dumps_parse_as_text() {
    let plain = parse(&fixture("variants.txt")).unwrap();
    let gz = parse(&gzip(&fixture("variants.txt"))).unwrap();
    assert_eq!((gz.form, &gz.records), (SourceForm::Debug2, &plain.records));
    let d1 = parse(&gzip(&fixture("debug1_variants.txt"))).unwrap();
    assert_eq!(d1.form, SourceForm::Debug1);
}

#[test]
fn pprof_hostile() {
    // A length that runs past the end.
    let mut p = Vec::new();
    varint((6 << 3) | 2, &mut p);
    varint(1 << 40, &mut p);
    p.extend_from_slice(b"abc");
    let e = parse_with(&gzip(&p), Limits::default()).unwrap_err();
    assert!(e.message.contains("runs past the end"), "{e}");

    // Every prefix of a valid profile errors or parses; none panics.
    let good = tiny_profile("goroutine", 1);
    for n in 0..good.len() {
        let _ = parse(&gzip(&good[..n]));
    }

    // A gzip bomb stops at the limit.
    let big = gzip(&vec![0u8; 4 << 20]);
    let e = parse_with(
        &big,
        Limits {
            max_decompressed: 1 << 20,
            ..Limits::default()
        },
    )
    .unwrap_err();
    assert!(e.message.contains("exceeds the 1048576-byte limit"), "{e}");

    // Truncated gzip.
    let gz = gzip(&good);
    let e = parse(&gz[..gz.len() / 2]).unwrap_err();
    assert!(e.message.starts_with("gzip"), "{e}");

    // A location fanned out many times with many lines is refused, not expanded.
    let mut p = Vec::new();
    let mut vt = Vec::new();
    field_varint(1, 1, &mut vt);
    field_bytes(1, &vt, &mut p);
    let mut loc = Vec::new();
    field_varint(1, 1, &mut loc);
    let mut line = Vec::new();
    field_varint(1, 1, &mut line);
    for _ in 0..20_000 {
        field_bytes(4, &line, &mut loc);
    }
    field_bytes(4, &loc, &mut p);
    let mut f = Vec::new();
    field_varint(1, 1, &mut f);
    field_bytes(5, &f, &mut p);
    let mut s = Vec::new();
    let locs = vec![1u8; 50_000];
    field_bytes(1, &locs, &mut s);
    field_bytes(2, &s, &mut p);
    field_bytes(6, b"", &mut p);
    field_bytes(6, b"goroutine", &mut p);
    let e = parse(&gzip(&p)).unwrap_err();
    assert!(e.message.contains("far more frames"), "{e}");
}

#[test]
fn cgo_frames_and_unwinder_notes_stay_in_the_block() {
    let s = parse(&fixture("cgo_and_unwinder_notes.txt")).unwrap();
    assert_eq!(s.records.len(), 2);
    let g1 = by_id(&s.records, 1);
    assert_eq!(
        (g1.status.as_str(), g1.class),
        ("syscall", StateClass::Syscall)
    );
    assert_eq!(
        funcs(g1),
        ["runtime.cgocall", "main._Cfunc_crash", "main.main"]
    );
    assert_eq!(g1.stack[1].file, "_cgo_gotypes.go");
    assert_eq!(g1.stack[2].line, 12);
    assert_eq!(by_id(&s.records, 2).status, "force gc (idle)");
}
