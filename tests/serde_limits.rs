//! Hostile serialised values: memory taken while reading is bounded by the input already
//! read, whatever lengths the input claims. Each case runs in a child process under an
//! address-space limit of 512 MiB, where an allocation sized by a claim would abort.
#![cfg(all(feature = "serde", not(miri)))]

use strand_alloc::PortableValue;

const CHILD: &str = "STRAND_ALLOC_SERDE_CHILD";

/// The documents: deep lying variants, wide lying ones, a lying length after real
/// fields, a claim of the largest length, and a truncated document.
fn cases() -> Vec<(&'static str, String)> {
    let lie = r#"{"Variant":[0,18446744073709551615]}"#;
    let deep = format!("[{}]", vec![lie; 20_000].join(","));
    let wide = format!(
        "[{},{}]",
        r#"{"Variant":[1,18446744073709551615]}"#,
        vec![r#"{"Int":1}"#; 50_000].join(",")
    );
    let mixed = format!(
        "[{}]",
        vec![r#"{"Variant":[0,4611686018427387904]},{"Str":"x"}"#; 10_000].join(",")
    );
    let huge = r#"[{"Variant":[0,18446744073709551615]}]"#.to_string();
    let cut = r#"[{"Variant":[0,2]},{"Int":1}"#.to_string();
    vec![
        ("deep", deep),
        ("wide", wide),
        ("mixed", mixed),
        ("huge", huge),
        ("cut", cut),
    ]
}

fn child(name: &str) {
    // SAFETY: sets this process's own address-space limit; the struct is fully written.
    unsafe {
        let limit = libc::rlimit {
            rlim_cur: 512 << 20,
            rlim_max: 512 << 20,
        };
        assert_eq!(libc::setrlimit(libc::RLIMIT_AS, &limit), 0);
    }
    let (_, doc) = cases().into_iter().find(|(n, _)| *n == name).unwrap();
    match serde_json::from_str::<PortableValue>(&doc) {
        Ok(v) => panic!("{name}: a lying document was accepted: {v:?}"),
        Err(e) => println!("{name}: refused: {e}"),
    }
}

#[test]
fn lying_lengths_are_refused_within_memory_bounded_by_the_input() {
    if let Ok(name) = std::env::var(CHILD) {
        child(&name);
        return;
    }
    let exe = std::env::current_exe().unwrap();
    for (name, doc) in cases() {
        let out = std::process::Command::new(&exe)
            .args([
                "lying_lengths_are_refused_within_memory_bounded_by_the_input",
                "--exact",
                "--nocapture",
            ])
            .env(CHILD, name)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && text.contains(&format!("{name}: refused")),
            "{name} ({} bytes): {}\n{}",
            doc.len(),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
