//! The library's modules depend on each other in one direction: from the user's call
//! down to the backend. This reads every module's `use crate::...` and `crate::...`
//! paths (re-exported names resolved through `lib.rs`) and checks that no module depends,
//! directly or through others, on a module that depends on it, except `value` and
//! `variant`, which together are one recursive type.
//!
//! It reads source files, which Miri's isolation forbids (and it checks source, not
//! behaviour), so it is compiled out under Miri.
#![cfg(not(miri))]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

fn code(text: &str) -> String {
    text.lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

fn idents_after(text: &str, prefix: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find(prefix) {
        rest = &rest[i + prefix.len()..];
        if rest.starts_with('{') {
            let end = rest.find('}').unwrap_or(rest.len());
            for part in rest[1..end].split(',') {
                let name: String = part
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    out.push(name);
                }
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.push(name);
            }
        }
    }
    out
}

#[test]
fn modules_depend_on_each_other_in_one_direction() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    // Names re-exported at the root, by the module they come from.
    let mut owner: BTreeMap<String, String> = BTreeMap::new();
    for line in code(&lib).lines() {
        let Some(rest) = line.trim().strip_prefix("pub use ") else {
            continue;
        };
        let module: String = rest.chars().take_while(|c| *c != ':').collect();
        for name in idents_after(rest, "::") {
            owner.insert(name, module.clone());
        }
    }
    let mut deps: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("rs") {
            continue;
        }
        let module = path.file_stem().unwrap().to_str().unwrap().to_string();
        if module == "lib" {
            continue;
        }
        let text = code(&std::fs::read_to_string(&path).unwrap());
        let mut mine = BTreeSet::new();
        for name in idents_after(&text, "crate::") {
            let target = if name.starts_with(char::is_uppercase) || name == "channel" {
                owner.get(&name).cloned().unwrap_or(name)
            } else {
                name
            };
            if target != module && src.join(format!("{target}.rs")).exists() {
                mine.insert(target);
            }
        }
        deps.insert(module, mine);
    }
    // The backend files are part of `backends`.
    let backends = Path::new(env!("CARGO_MANIFEST_DIR")).join("backends");
    for entry in std::fs::read_dir(&backends).unwrap() {
        let text = code(&std::fs::read_to_string(entry.unwrap().path()).unwrap());
        for name in idents_after(&text, "crate::") {
            let target = owner.get(&name).cloned().unwrap_or(name);
            if target != "backends" && src.join(format!("{target}.rs")).exists() {
                deps.get_mut("backends").unwrap().insert(target);
            }
        }
    }
    assert!(deps.len() > 10, "read {} modules", deps.len());
    // No pair of modules imports each other, except value and variant.
    for (a, ds) in &deps {
        for b in ds {
            let pair = (a.as_str(), b.as_str());
            if deps[b].contains(a) && pair != ("value", "variant") && pair != ("variant", "value") {
                panic!("{a} and {b} import each other");
            }
        }
    }
    // Nor is there a longer cycle once the value/variant pair counts as one module.
    let merged = |m: &str| {
        if m == "variant" {
            "value".to_string()
        } else {
            m.to_string()
        }
    };
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (a, ds) in &deps {
        let e = graph.entry(merged(a)).or_default();
        e.extend(ds.iter().map(|d| merged(d)).filter(|d| *d != merged(a)));
    }
    // Kahn's algorithm: every module must come out.
    let mut indegree: BTreeMap<&String, usize> = graph.keys().map(|k| (k, 0)).collect();
    for ds in graph.values() {
        for d in ds {
            *indegree.get_mut(d).unwrap() += 1;
        }
    }
    let mut ready: Vec<&String> = indegree
        .iter()
        .filter(|(_, n)| **n == 0)
        .map(|(k, _)| *k)
        .collect();
    let mut done = 0;
    while let Some(m) = ready.pop() {
        done += 1;
        for d in &graph[m] {
            let n = indegree.get_mut(d).unwrap();
            *n -= 1;
            if *n == 0 {
                ready.push(d);
            }
        }
    }
    let stuck: Vec<_> = indegree
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(k, _)| k.as_str())
        .collect();
    assert_eq!(
        done,
        graph.len(),
        "modules in a cycle: {stuck:?}; graph: {graph:?}"
    );
}
