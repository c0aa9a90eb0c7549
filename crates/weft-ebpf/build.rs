//! Compiles `bpf/goprobes.bpf.c` with clang when clang is there. Without it
//! the crate still builds (the rest of weft must), and the eBPF mode
//! reports that it was not compiled in.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(weft_bpf)");
    println!("cargo:rerun-if-changed=bpf/goprobes.bpf.c");
    println!("cargo:rerun-if-env-changed=WEFT_CLANG");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("goprobes.bpf.o");
    // WEFT_CLANG names the compiler; WEFT_CLANG=none builds without the
    // mode (to check that path).
    let mut candidates: Vec<String> = std::env::var("WEFT_CLANG").into_iter().collect();
    if candidates.first().is_some_and(|c| c == "none") {
        println!("cargo:warning=WEFT_CLANG=none: weft is built without its eBPF mode");
        return;
    }
    candidates.push("clang".into());
    candidates.extend((14..=21).rev().map(|v| format!("clang-{v}")));
    for clang in &candidates {
        let status = Command::new(clang)
            .args(["-O2", "-g", "-target", "bpf", "-Wall", "-Werror", "-c"])
            .arg("bpf/goprobes.bpf.c")
            .arg("-o")
            .arg(&out)
            .status();
        match status {
            Ok(s) if s.success() => {
                println!("cargo:rustc-cfg=weft_bpf");
                return;
            }
            // Present but unable (no BPF target?): build without, loudly.
            Ok(s) => {
                println!("cargo:warning={clang} failed to compile bpf/goprobes.bpf.c ({s}): weft is built without its eBPF mode");
                return;
            }
            Err(_) => continue,
        }
    }
    println!(
        "cargo:warning=clang not found: weft is built without its eBPF mode (install clang and rebuild)"
    );
}
