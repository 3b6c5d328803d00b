//! The README's worked example of an ops edit, run for real: what it says `check` prints
//! for the edit, for three mistakes in it, and for the mistake a reload refuses, is what
//! `check` prints on the shipped config today (so the positions cannot drift again).

use std::{path::PathBuf, process::Command};

fn readme() -> String {
    std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../README.md"))
        .unwrap()
}

/// The body of the first fenced block of `kind` after `heading` in the README.
fn block_after(readme: &str, heading: &str, kind: &str) -> String {
    let from = readme.find(heading).expect("the heading");
    let start = readme[from..]
        .find(&format!("```{kind}\n"))
        .expect("the block")
        + from;
    let body = &readme[start + kind.len() + 4..];
    body[..body.find("```").unwrap()].to_owned()
}

/// `check` on the shipped config folder with `edit` made to its text; its output, with
/// the folder written as in the README.
fn check_with(name: &str, edit: impl Fn(String) -> String) -> String {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../config");
    let dir =
        std::env::temp_dir().join(format!("switchboard-readme-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let text = std::fs::read_to_string(root.join("switchboard.toml")).unwrap();
    std::fs::write(dir.join("switchboard.toml"), edit(text)).unwrap();
    std::fs::copy(root.join("customers.csv"), dir.join("customers.csv")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .arg("check")
        .arg(dir.join("switchboard.toml"))
        .output()
        .unwrap();
    // The summary of a good config is on stdout, errors on stderr.
    let printed = [out.stdout, out.stderr].concat();
    String::from_utf8(printed)
        .unwrap()
        .replace(&dir.display().to_string(), "/tmp/sb")
}

#[test]
fn the_readme_ops_edit_example_prints_what_check_prints() {
    let readme = readme();
    let rule = block_after(&readme, "### An ops edit", "toml");
    let with_rule = |text: String| {
        let at = text
            .find("[[rules]]\nname = \"operator-seekers\"")
            .expect("the operator-seekers rule");
        format!("{}{rule}\n{}", &text[..at], &text[at..])
    };
    let console = block_after(&readme, "### An ops edit", "console");
    let ok_line = console.lines().nth(1).unwrap();
    assert_eq!(check_with("ok", with_rule).trim_end(), ok_line);

    let mistakes = |text: String| {
        with_rule(text)
            .replacen(
                "when = 'caller.tier == \"platinum\"'",
                "when = 'caller.tier == \"platnum\"'",
                1,
            )
            .replacen(
                "caller.lifetime_value > 5000'",
                "caller.lifetime_value > \"5k\"'",
                1,
            )
            .replacen(
                "queue = \"care\", raise_priority = 5",
                "queue = \"carr\", raise_priority = 5",
                1,
            )
    };
    let errors = block_after(&readme, "A mistake is caught before", "text");
    assert_eq!(check_with("mistakes", mistakes), errors);

    let refused = |text: String| {
        with_rule(text).replacen(
            "queue = \"care\", raise_priority = 5",
            "queue = \"cares\", raise_priority = 5",
            1,
        )
    };
    let printed = check_with("reload", refused);
    let first = printed.lines().next().unwrap();
    assert!(
        readme.contains(&format!("ERROR switchboard_server::reload: {first}\n")),
        "the README's refused reload should show: {first}"
    );
}
