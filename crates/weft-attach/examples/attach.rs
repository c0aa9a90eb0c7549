//! Prints a process's goroutines like a `debug=2` dump, read from memory:
//! `cargo run -p weft-attach --example attach -- PID [--layout] [--system] [--stop]`.
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let pid: u32 = args
        .first()
        .and_then(|s| s.parse().ok())
        .expect("usage: attach PID [--layout] [--system] [--stop]");
    let mut a = match weft_attach::Attacher::new(pid) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };
    if args.iter().any(|a| a == "--layout") {
        println!(
            "{} dwarf={} {:?}",
            a.go_version(),
            a.layout_from_dwarf(),
            a.layout()
        );
        return;
    }
    let opts = weft_attach::AttachOptions {
        include_system: args.iter().any(|a| a == "--system"),
        stop_target: args.iter().any(|a| a == "--stop"),
        ..Default::default()
    };
    let snap = a.snapshot(&opts).unwrap_or_else(|e| {
        eprintln!("error: {e}");
        std::process::exit(1)
    });
    for r in &snap.records {
        println!(
            "goroutine {} [{}]: wait_on={:?}",
            r.ids[0], r.status, r.wait_on
        );
        for f in &r.stack {
            println!("{}\n\t{}:{}", f.func, f.file, f.line);
        }
        if let Some(c) = &r.created_by {
            println!(
                "created by {} in goroutine {}\n\t{}:{}",
                c.func,
                r.creator_id.unwrap_or(0),
                c.file,
                c.line
            );
        }
        println!();
    }
    eprintln!("{:?}", a.last_stats());
}
