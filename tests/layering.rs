//! The import graph runs one way: a module of `src/` may use only modules of its own
//! layer or of layers below it. The order is written here and in docs/ARCHITECTURE.md
//! (keep the two the same). A back-import (a lower layer using a higher one) fails.

use std::collections::BTreeMap;
use std::path::Path;

/// Bottom to top. `crate::x` names not listed (items of lib.rs such as `shared_dir`)
/// are the crate root and may be used by all.
const LAYERS: &[&str] = &[
    "timeline",
    "inspect",
    "evidence",
    "saved",
    "sources",
    "detect",
    "annotations",
    "query",
    "export",
    "report",
    "scan",
    "shell",
    "analyze",
];

/// (file, line, module, used module) of every use of a higher layer.
fn back_imports(files: &BTreeMap<String, String>) -> Vec<(String, usize, String, String)> {
    let rank = |m: &str| LAYERS.iter().position(|l| *l == m);
    let mut out = Vec::new();
    for (path, text) in files {
        // `foo/bar.rs` and `foo.rs` belong to module `foo`; lib.rs and main.rs to none.
        let module = path
            .split('/')
            .next()
            .unwrap_or("")
            .trim_end_matches(".rs")
            .to_string();
        let Some(own) = rank(&module) else {
            continue;
        };
        for (i, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            let mut rest = code;
            while let Some(at) = rest.find("crate::") {
                let after = &rest[at + "crate::".len()..];
                let name: String = after
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if let Some(r) = rank(&name) {
                    if r > own {
                        out.push((path.clone(), i + 1, module.clone(), name.clone()));
                    }
                }
                rest = after;
            }
        }
    }
    out
}

fn sources(dir: &Path, base: &Path, out: &mut BTreeMap<String, String>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            sources(&p, base, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            let rel = p
                .strip_prefix(base)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            out.insert(rel, std::fs::read_to_string(&p).unwrap());
        }
    }
}

#[test]
fn no_module_imports_a_higher_layer() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = BTreeMap::new();
    sources(&src, &src, &mut files);
    // Every top-level module of src/ has a place in the order.
    for path in files.keys() {
        let m = path.split('/').next().unwrap().trim_end_matches(".rs");
        assert!(
            matches!(m, "lib" | "main") || LAYERS.contains(&m),
            "src/{path}: module `{m}` has no layer; add it to LAYERS and docs/ARCHITECTURE.md"
        );
    }
    let back = back_imports(&files);
    assert!(
        back.is_empty(),
        "back-imports (file, line, module, uses): {back:#?}"
    );
    // The documentation lists the same order.
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/ARCHITECTURE.md"))
            .unwrap();
    let listed = format!("`{}`", LAYERS.join("` < `"));
    assert!(
        doc.contains(&listed),
        "docs/ARCHITECTURE.md must list the layers as {listed}"
    );
}

/// The checker itself: a made-up tree where the timeline uses detection fails, naming
/// the line; the same use the other way round passes.
#[test]
fn a_back_import_is_caught() {
    let mut files = BTreeMap::new();
    files.insert(
        "timeline/mod.rs".to_string(),
        "use crate::evidence::X; // fine? no: evidence is above\n// crate::detect in a comment\nfn f() { crate::detect::run(); }\n".to_string(),
    );
    files.insert(
        "detect/mod.rs".to_string(),
        "use crate::timeline::Event;\nuse crate::shared_dir;\n".to_string(),
    );
    let back = back_imports(&files);
    assert_eq!(
        back,
        vec![
            (
                "timeline/mod.rs".to_string(),
                1,
                "timeline".to_string(),
                "evidence".to_string()
            ),
            (
                "timeline/mod.rs".to_string(),
                3,
                "timeline".to_string(),
                "detect".to_string()
            ),
        ]
    );
}
