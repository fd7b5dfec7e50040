//! Finds the backends: every `backends/NAME.rs` is one backend, compiled in by the cargo
//! feature `NAME` with `_` spelled `-`, and defines `pub struct Name` (the file name in
//! CamelCase). Adding a backend is adding that file and its feature line.

use std::{env, fs, path::Path};

fn camel(snake: &str) -> String {
    snake
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

fn main() {
    println!("cargo:rerun-if-changed=backends");
    let dir = Path::new(&env::var("CARGO_MANIFEST_DIR").unwrap()).join("backends");
    let mut names: Vec<String> = fs::read_dir(&dir)
        .expect("backends/ exists")
        .filter_map(|e| {
            let p = e.ok()?.path();
            (p.extension()? == "rs").then(|| p.file_stem()?.to_str().map(String::from))?
        })
        .collect();
    names.sort();
    let mut out = String::new();
    let mut features = Vec::new();
    for n in &names {
        let feature = n.replace('_', "-");
        let ty = camel(n);
        let path = dir.join(format!("{n}.rs"));
        out += &format!(
            "#[cfg(feature = \"{feature}\")]\n#[path = {path:?}]\npub mod {n};\n\
             #[cfg(feature = \"{feature}\")]\npub use {n}::{ty};\n"
        );
        features.push((feature, ty));
    }
    let any = features
        .iter()
        .map(|(f, _)| format!("feature = \"{f}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let list = features
        .iter()
        .map(|(f, _)| f.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    out += &format!(
        "#[cfg(not(any({any})))]\ncompile_error!(\"strand-alloc: no backend enabled; \
         enable at least one of the features {list} (or all-backends)\");\n"
    );
    out += "/// The names of the backends compiled in, in a fixed order.\n\
            pub const ENABLED: &[&str] = &[\n";
    for (f, _) in &features {
        out += &format!("    #[cfg(feature = \"{f}\")]\n    \"{f}\",\n");
    }
    out += "];\n\n/// Calls `visitor` once for each backend compiled in, in the order of [`ENABLED`].\n\
            pub fn for_each<V: BackendVisitor>(visitor: &mut V) {\n";
    for (f, ty) in &features {
        out += &format!("    #[cfg(feature = \"{f}\")]\n    visitor.visit::<{ty}>();\n");
    }
    out += "    let _ = visitor;\n}\n\n/// Calls `visitor` with the backend named `name`; `None` if no such backend is compiled in.\n\
            pub fn visit<V: BackendVisitor>(name: &str, visitor: &mut V) -> Option<V::Output> {\n    match name {\n";
    for (f, ty) in &features {
        out += &format!(
            "        #[cfg(feature = \"{f}\")]\n        \"{f}\" => Some(visitor.visit::<{ty}>()),\n"
        );
    }
    out += "        _ => None,\n    }\n}\n";
    // The default backend: thread-arena when compiled in, else the first in name order.
    let mut order: Vec<&(String, String)> = features.iter().collect();
    order.sort_by_key(|(f, _)| f != "thread-arena");
    for (i, (f, ty)) in order.iter().enumerate() {
        let before = order[..i]
            .iter()
            .map(|(g, _)| format!("feature = \"{g}\""))
            .collect::<Vec<_>>()
            .join(", ");
        out += &format!(
            "/// The backend used when none is named: `thread-arena` when it is compiled in,\n\
             /// else the first compiled-in backend in name order.\n\
             #[cfg(all(feature = \"{f}\", not(any({before}))))]\npub type DefaultBackend = {ty};\n"
        );
    }
    fs::write(
        Path::new(&env::var("OUT_DIR").unwrap()).join("backends.rs"),
        out,
    )
    .unwrap();
}
