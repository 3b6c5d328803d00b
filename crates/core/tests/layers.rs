//! The core's modules form layers: no module reaches, through the others, back to
//! itself. Read from the sources (`use crate::...`), test modules left out.

use std::collections::{BTreeMap, BTreeSet};

/// The crate's top-level modules each file's non-test code names.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            for inner in std::fs::read_dir(&path).unwrap() {
                files.push(inner.unwrap().path());
            }
        } else {
            files.push(path);
        }
    }
    let modules: BTreeSet<String> = files
        .iter()
        .filter(|p| p.parent() == Some(&src))
        .filter_map(|p| p.file_stem()?.to_str().map(str::to_owned))
        .filter(|m| m != "lib")
        .collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for path in &files {
        let name = path.file_name().unwrap().to_str().unwrap();
        if !name.ends_with(".rs") || name == "tests.rs" || name == "lib.rs" {
            continue;
        }
        let relative = path.strip_prefix(&src).unwrap();
        let top = relative
            .iter()
            .next()
            .unwrap()
            .to_str()
            .unwrap()
            .trim_end_matches(".rs")
            .to_owned();
        let text = std::fs::read_to_string(path).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap();
        let mut named = BTreeSet::new();
        // `crate::module::...` anywhere, and `module::` inside `use crate::{...}`.
        for (i, _) in code.match_indices("crate::") {
            let rest = &code[i + 7..];
            if let Some(block) = rest.strip_prefix('{') {
                let block = &block[..block.find("};").unwrap_or(block.len())];
                for word in block.split(|c: char| !(c.is_ascii_lowercase() || c == '_' || c == ':'))
                {
                    if let Some((m, _)) = word.split_once("::") {
                        named.insert(m.to_owned());
                    }
                }
            } else {
                let end = rest
                    .find(|c: char| !(c.is_ascii_lowercase() || c == '_'))
                    .unwrap_or(rest.len());
                named.insert(rest[..end].to_owned());
            }
        }
        let entry = graph.entry(top.clone()).or_default();
        entry.extend(
            named
                .into_iter()
                .filter(|m| *m != top && modules.contains(m)),
        );
    }
    graph
}

#[test]
fn the_cores_modules_import_each_other_without_a_cycle() {
    let graph = graph();
    assert!(graph.len() > 10, "{graph:?}");
    // Depth-first: a module met again on the current path closes a cycle.
    fn visit(
        m: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) {
        if let Some(at) = path.iter().position(|p| p == m) {
            panic!("a cycle: {}", path[at..].join(" -> ") + " -> " + m);
        }
        if done.contains(m) {
            return;
        }
        path.push(m.to_owned());
        for next in graph.get(m).into_iter().flatten() {
            visit(next, graph, path, done);
        }
        path.pop();
        done.insert(m.to_owned());
    }
    let mut done = BTreeSet::new();
    for m in graph.keys() {
        visit(m, &graph, &mut Vec::new(), &mut done);
    }
    // The words at the bottom depend on nothing of the domain.
    for bottom in ["clock", "number", "text"] {
        assert!(graph[bottom].is_empty(), "{bottom} -> {:?}", graph[bottom]);
    }
}
