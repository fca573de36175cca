//! `--help` of tape-op and of every command renders and says what the
//! README says.

use crate::Env;

#[test]
fn every_help_page_renders() {
    let env = Env::new("");
    let top = env.ok(&["--help"], 0);
    let commands: Vec<String> = top
        .lines()
        .skip_while(|l| *l != "Commands:")
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        // Wrapped descriptions are indented further.
        .filter(|l| !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_owned)
        .collect();
    assert!(commands.len() > 10, "{top}");
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    for c in &commands {
        let help = env.ok(&[c, "--help"], 0);
        assert!(help.contains(&format!("Usage: tape-op {c}")), "{help}");
        assert!(
            readme.contains(&format!("tape-op {c}")),
            "the README's command list lacks `tape-op {c}`"
        );
    }
    let version = env.ok(&["--version"], 0);
    assert!(version.starts_with(&format!("tape-op {}", env!("CARGO_PKG_VERSION"))));
}
