//! The server's layer rule, kept by a test rather than by hope (README,
//! Architecture). It reads every file under `src/server/`, finds what each
//! module imports from the others (`use` trees and inline `crate::server::…`
//! or `super::…` paths, outside comments), and fails when
//!
//! - a module imports from a layer above its own, or from another folder of
//!   the same layer (`producers/` and `transport/` stay apart);
//! - a file is in no layer (a new top-level module must be placed in one);
//! - `hub/` or `store/` code names `tokio::net`, `axum`, `hyper` or
//!   `TcpStream`: the core never sees a socket or HTTP;
//! - modules import each other in a circle (a `mod.rs` re-exporting its own
//!   children with `pub use` is the folder's face, not an import).
//!
//! `SSE_HUB_ARCH_ROOT` points it at another tree (the check of an older
//! commit, say).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Bottom to top; a module may import only from a strictly lower layer, or
/// from its own folder.
const LAYERS: &[&[&str]] = &[
    &["sse", "stats", "timestamp", "process"],
    &["store"],
    &["hub"],
    &["producers", "transport"],
    &["http"],
    // The composition: settings, then what builds from them, then `main`,
    // then the re-exports of `server/mod.rs`.
    &["config"],
    &["app"],
    &["cli"],
    &[""],
];

/// Names the core (`hub/`, `store/`) must not use anywhere in its code.
const CORE_FORBIDDEN: &[&str] = &["tokio::net", "axum", "hyper", "TcpStream"];

/// Paths the core must not import, checked on expanded `use` trees (so that
/// `use tokio::{net::TcpListener}` is caught too): the HTTP and socket
/// crates, and std's sockets.
const CORE_FORBIDDEN_IMPORTS: &[&str] = &[
    "tokio::net",
    "axum",
    "axum_core",
    "hyper",
    "hyper_util",
    "http",
    "http_body",
    "tower",
    "tower_http",
    "leptos_axum",
    "mio",
    "socket2",
    "std::net::TcpStream",
    "std::net::TcpListener",
    "std::net::UdpSocket",
];

/// A module path below `crate::server`, e.g. `["hub", "stream"]`.
type ModPath = Vec<String>;

/// One import found in a module: what it names, and whether it is a
/// re-export.
struct Import {
    target: ModPath,
    reexport: bool,
    line: usize,
}

fn server_root() -> PathBuf {
    std::env::var_os("SSE_HUB_ARCH_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("src/server"))
}

/// Every `.rs` file below `dir`, with its module path.
fn modules(root: &Path) -> BTreeMap<ModPath, PathBuf> {
    fn walk(dir: &Path, prefix: &ModPath, out: &mut BTreeMap<ModPath, PathBuf>) {
        let mut entries: Vec<_> = fs::read_dir(dir)
            .expect("readable source directory")
            .map(|entry| entry.expect("directory entry").path())
            .collect();
        entries.sort();
        for path in entries {
            let name = path
                .file_stem()
                .and_then(|s| s.to_str())
                .expect("UTF-8 file name")
                .to_owned();
            if path.is_dir() {
                let mut inner = prefix.clone();
                inner.push(name);
                walk(&path, &inner, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let mut module = prefix.clone();
                if name != "mod" {
                    module.push(name);
                }
                out.insert(module, path);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, &Vec::new(), &mut out);
    out
}

/// The layer of a module: its index in [`LAYERS`] by its top-level name.
fn layer_of(module: &ModPath) -> Option<usize> {
    let top = module.first().map(String::as_str).unwrap_or("");
    LAYERS.iter().position(|layer| layer.contains(&top))
}

/// The source without comments (line, block and doc comments) and without
/// the contents of string literals, line by line.
fn code_lines(source: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_block = 0usize;
    for line in source.lines() {
        let mut code = String::new();
        let mut chars = line.chars().peekable();
        let mut in_string = false;
        while let Some(c) = chars.next() {
            if in_block > 0 {
                if c == '*' && chars.peek() == Some(&'/') {
                    chars.next();
                    in_block -= 1;
                } else if c == '/' && chars.peek() == Some(&'*') {
                    chars.next();
                    in_block += 1;
                }
                continue;
            }
            if in_string {
                if c == '\\' {
                    chars.next();
                } else if c == '"' {
                    in_string = false;
                    code.push('"');
                }
                continue;
            }
            match c {
                '/' if chars.peek() == Some(&'/') => break,
                '/' if chars.peek() == Some(&'*') => {
                    chars.next();
                    in_block += 1;
                }
                '"' => {
                    in_string = true;
                    code.push('"');
                }
                // A char literal such as '"' or '{' must not open anything.
                '\'' => {
                    let rest: String = chars.clone().take(3).collect();
                    if let Some(escaped) = rest.strip_prefix('\\') {
                        if let Some(end) = escaped.find('\'') {
                            for _ in 0..end + 2 {
                                chars.next();
                            }
                        }
                    } else if rest.chars().nth(1) == Some('\'') {
                        chars.next();
                        chars.next();
                    }
                    code.push('\'');
                }
                c => code.push(c),
            }
        }
        out.push(code);
    }
    out
}

/// Expands a `use` tree (`a::{b, c::{d, e}}`) into its full paths.
fn expand_use_tree(tree: &str) -> Vec<String> {
    let tree = tree.trim();
    let Some(open) = tree.find('{') else {
        let path = tree.split(" as ").next().unwrap_or(tree).trim();
        return vec![path.to_owned()];
    };
    let prefix = &tree[..open];
    let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    parts
        .into_iter()
        .filter(|part| !part.trim().is_empty())
        .flat_map(expand_use_tree)
        .map(|rest| match rest.as_str() {
            "self" => prefix.trim_end_matches("::").to_owned(),
            _ => format!("{prefix}{rest}"),
        })
        .collect()
}

/// The module a path names, relative to `scope` (the module the code is in,
/// nested `mod` blocks included), if it is inside `crate::server`.
fn resolve(path: &str, scope: &ModPath) -> Option<ModPath> {
    let segments: Vec<&str> = path.split("::").map(str::trim).collect();
    let (mut base, rest): (ModPath, &[&str]) = match segments.first()? {
        &"crate" => {
            if segments.get(1) != Some(&"server") {
                return None;
            }
            (Vec::new(), &segments[2..])
        }
        &"super" | &"self" => {
            let mut base = scope.clone();
            let mut i = 0;
            while let Some(&segment) = segments.get(i) {
                match segment {
                    "super" => {
                        base.pop()?;
                    }
                    "self" => {}
                    _ => break,
                }
                i += 1;
            }
            (base, &segments[i..])
        }
        _ => return None,
    };
    base.extend(rest.iter().map(|s| (*s).to_owned()));
    Some(base)
}

/// The longest prefix of `target` that is a known module.
fn owning_module(target: &ModPath, known: &BTreeMap<ModPath, PathBuf>) -> ModPath {
    let mut candidate = target.clone();
    while !candidate.is_empty() && !known.contains_key(&candidate) {
        candidate.pop();
    }
    candidate
}

/// Paths that start with `crate::server::`, `super::` or `self::` anywhere in
/// a line of code.
fn inline_paths(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    for start in ["crate::server::", "super::", "self::"] {
        let mut from = 0;
        while let Some(found) = code[from..].find(start) {
            let at = from + found;
            let preceded = code[..at]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':');
            let end = code[at..]
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .map_or(code.len(), |len| at + len);
            if !preceded {
                out.push(code[at..end].trim_end_matches(':').to_owned());
            }
            from = end.max(at + start.len());
        }
    }
    out
}

/// Every import of one module's file.
fn imports_of(module: &ModPath, source: &str) -> Vec<Import> {
    let lines = code_lines(source);
    let mut imports = Vec::new();
    // Nested `mod name {` blocks: (name, brace depth outside it).
    let mut nested: Vec<(String, i64)> = Vec::new();
    let mut depth: i64 = 0;
    let mut pending_use: Option<(String, bool, usize)> = None;
    for (number, code) in lines.iter().enumerate() {
        let line = number + 1;
        let trimmed = code.trim();
        let scope: ModPath = module
            .iter()
            .cloned()
            .chain(nested.iter().map(|(name, _)| name.clone()))
            .collect();
        if let Some((mut text, reexport, first)) = pending_use.take() {
            text.push_str(trimmed);
            if text.contains(';') {
                record_use(&text, reexport, first, &scope, &mut imports);
            } else {
                pending_use = Some((text, reexport, first));
            }
        } else if let Some(rest) = use_statement(trimmed) {
            let reexport = trimmed.starts_with("pub");
            if rest.contains(';') {
                record_use(rest, reexport, line, &scope, &mut imports);
            } else {
                pending_use = Some((rest.to_owned(), reexport, line));
            }
        } else {
            for path in inline_paths(code) {
                if let Some(target) = resolve(&path, &scope) {
                    imports.push(Import {
                        target,
                        reexport: false,
                        line,
                    });
                }
            }
        }
        if let Some(name) = nested_mod_name(trimmed) {
            nested.push((name, depth));
        }
        depth += code.matches('{').count() as i64 - code.matches('}').count() as i64;
        while nested.last().is_some_and(|(_, outside)| depth <= *outside) {
            nested.pop();
        }
    }
    imports
}

/// The name of an inline module opened on this line (`mod x {`, with any
/// visibility and attributes before it).
fn nested_mod_name(line: &str) -> Option<String> {
    let mut rest = line.trim();
    while rest.starts_with("#[") {
        rest = rest[rest.find(']')? + 1..].trim_start();
    }
    let rest = strip_visibility(rest);
    let name = rest.strip_prefix("mod ")?.trim_end().strip_suffix('{')?;
    Some(name.trim().to_owned())
}

/// `line` without a leading `pub`, `pub(crate)`, `pub(super)` or `pub(in …)`.
fn strip_visibility(line: &str) -> &str {
    if let Some(rest) = line.strip_prefix("pub(") {
        return rest
            .find(')')
            .map_or(line, |end| rest[end + 1..].trim_start());
    }
    line.strip_prefix("pub ").unwrap_or(line)
}

/// Every path a file's `use` statements import from outside the crate,
/// expanded, with its line.
fn external_uses(source: &str) -> Vec<(usize, String)> {
    let lines = code_lines(source);
    let mut out = Vec::new();
    let mut pending: Option<(String, usize)> = None;
    for (number, code) in lines.iter().enumerate() {
        let trimmed = code.trim();
        let (text, first) = match pending.take() {
            Some((mut text, first)) => {
                text.push_str(trimmed);
                (text, first)
            }
            None => match use_statement(trimmed) {
                Some(rest) => (rest.to_owned(), number + 1),
                None => continue,
            },
        };
        if !text.contains(';') {
            pending = Some((text, first));
            continue;
        }
        let tree = text.split(';').next().unwrap_or(&text);
        for path in expand_use_tree(tree) {
            let path = path.trim_start_matches("::").to_owned();
            if !["crate", "super", "self"]
                .iter()
                .any(|local| path.starts_with(local))
            {
                out.push((first, path));
            }
        }
    }
    out
}

/// The tree of a `use` statement, without its visibility and `use`.
fn use_statement(line: &str) -> Option<&str> {
    strip_visibility(line).strip_prefix("use ")
}

fn record_use(text: &str, reexport: bool, line: usize, scope: &ModPath, out: &mut Vec<Import>) {
    let tree = text.split(';').next().unwrap_or(text);
    for path in expand_use_tree(tree) {
        if let Some(target) = resolve(&path, scope) {
            out.push(Import {
                target,
                reexport,
                line,
            });
        }
    }
}

fn show(module: &ModPath) -> String {
    if module.is_empty() {
        "server (mod.rs)".to_owned()
    } else {
        module.join("::")
    }
}

/// Every violation of the rules in the module doc, one line each.
fn violations(root: &Path) -> Vec<String> {
    let known = modules(root);
    let mut problems = Vec::new();
    let mut edges: BTreeMap<ModPath, BTreeSet<ModPath>> = BTreeMap::new();
    for (module, path) in &known {
        let source = fs::read_to_string(path).expect("readable source file");
        let file = path
            .strip_prefix(root)
            .unwrap_or(path)
            .display()
            .to_string();
        let layer = layer_of(module);
        if layer.is_none() {
            problems.push(format!("{file}: module {} is in no layer", show(module)));
        }
        if matches!(module.first().map(String::as_str), Some("hub" | "store")) {
            for (line, path) in external_uses(&source) {
                let forbidden = CORE_FORBIDDEN_IMPORTS
                    .iter()
                    .find(|name| path == **name || path.starts_with(&format!("{name}::")));
                if let Some(name) = forbidden {
                    problems.push(format!(
                        "{file}:{line}: the core imports `{path}` (from `{name}`): hub/ and store/ never see sockets or HTTP"
                    ));
                }
            }
            for (number, code) in code_lines(&source).iter().enumerate() {
                for name in CORE_FORBIDDEN {
                    if contains_word(code, name) {
                        problems.push(format!(
                            "{file}:{}: the core names `{name}`: hub/ and store/ never see sockets or HTTP",
                            number + 1
                        ));
                    }
                }
            }
        }
        for import in imports_of(module, &source) {
            let target = owning_module(&import.target, &known);
            if target == *module || !known.contains_key(&target) {
                continue;
            }
            let same_folder = module.first() == target.first() && !module.is_empty();
            // A folder's mod.rs re-exporting its own children is its face.
            let own_child = target.starts_with(module);
            if import.reexport && own_child {
                continue;
            }
            if let (false, Some(layer), Some(target_layer)) =
                (same_folder, layer, layer_of(&target))
            {
                if target_layer >= layer {
                    problems.push(format!(
                        "{file}:{}: {} (layer {layer}) imports {} (layer {target_layer}): only lower layers may be imported",
                        import.line,
                        show(module),
                        show(&target),
                    ));
                }
            }
            edges.entry(module.clone()).or_default().insert(target);
        }
    }
    problems.dedup();
    problems.extend(cycles(&edges));
    problems
}

/// `name` in `code` as a whole path segment or word.
fn contains_word(code: &str, name: &str) -> bool {
    code.match_indices(name).any(|(at, _)| {
        let before = code[..at].chars().next_back();
        let after = code[at + name.len()..].chars().next();
        let boundary = |c: Option<char>| !c.is_some_and(|c| c.is_alphanumeric() || c == '_');
        boundary(before) && boundary(after)
    })
}

/// Every circle of imports, each reported once.
fn cycles(edges: &BTreeMap<ModPath, BTreeSet<ModPath>>) -> Vec<String> {
    fn visit(
        node: &ModPath,
        edges: &BTreeMap<ModPath, BTreeSet<ModPath>>,
        stack: &mut Vec<ModPath>,
        done: &mut BTreeSet<ModPath>,
        found: &mut BTreeSet<Vec<ModPath>>,
    ) {
        if let Some(at) = stack.iter().position(|n| n == node) {
            let mut circle = stack[at..].to_vec();
            let start = circle
                .iter()
                .enumerate()
                .min_by_key(|(_, m)| (*m).clone())
                .map_or(0, |(i, _)| i);
            circle.rotate_left(start);
            found.insert(circle);
            return;
        }
        if done.contains(node) {
            return;
        }
        stack.push(node.clone());
        for next in edges.get(node).into_iter().flatten() {
            visit(next, edges, stack, done, found);
        }
        stack.pop();
        done.insert(node.clone());
    }
    let mut found = BTreeSet::new();
    let mut done = BTreeSet::new();
    for node in edges.keys() {
        visit(node, edges, &mut Vec::new(), &mut done, &mut found);
    }
    found
        .into_iter()
        .map(|circle| {
            let names: Vec<String> = circle.iter().map(show).collect();
            format!(
                "modules import each other: {} -> {}",
                names.join(" -> "),
                names[0]
            )
        })
        .collect()
}

/// The server's modules keep the layer rule.
#[test]
fn the_server_keeps_its_layers() {
    let problems = violations(&server_root());
    assert!(
        problems.is_empty(),
        "{} architecture violation(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// The checker itself finds what it must: a use tree, a relative path, an
/// inline path, a cycle, and a forbidden name, but not one in a comment.
#[test]
fn the_checker_sees_imports_in_every_form() {
    let module = vec!["hub".to_owned(), "stream".to_owned()];
    let source = "use super::{live_sink::LiveSink, sync::lock};\n\
                  use crate::server::store::{self, Seq};\n\
                  // use crate::server::http::AppState;\n\
                  fn f() { crate::server::sse::encode_message(None, None, \"super::x\"); }\n\
                  #[cfg(test)]\nmod tests {\n    use super::super::ring::ReplayRing;\n}\n";
    let targets: Vec<String> = imports_of(&module, source)
        .iter()
        .map(|import| import.target.join("::"))
        .collect();
    assert_eq!(
        targets,
        [
            "hub::live_sink::LiveSink",
            "hub::sync::lock",
            "store",
            "store::Seq",
            "sse::encode_message",
            "hub::ring::ReplayRing",
        ]
    );
    let mut edges = BTreeMap::new();
    let (a, b) = (vec!["a".to_owned()], vec!["b".to_owned()]);
    edges.insert(a.clone(), BTreeSet::from([b.clone()]));
    edges.insert(b, BTreeSet::from([a]));
    assert_eq!(cycles(&edges), ["modules import each other: a -> b -> a"]);
    assert!(contains_word("let s: TcpStream;", "TcpStream"));
    assert!(!contains_word("let s: MyTcpStreamish;", "TcpStream"));
    let uses = external_uses("use tokio::{net::TcpListener, sync::Notify};\nuse crate::x;\n");
    assert_eq!(
        uses,
        [
            (1, "tokio::net::TcpListener".to_owned()),
            (1, "tokio::sync::Notify".to_owned())
        ]
    );
    assert_eq!(
        nested_mod_name("#[cfg(test)] pub mod tests {"),
        Some("tests".into())
    );
    assert_eq!(nested_mod_name("mod tests;"), None);
    assert!(code_lines("// uses axum\nlet x = 1; /* hyper */")
        .iter()
        .all(|line| !contains_word(line, "axum") && !contains_word(line, "hyper")));
}
