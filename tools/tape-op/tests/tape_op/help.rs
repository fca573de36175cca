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

#[test]
fn completions_and_man_pages() {
    let env = Env::new("");
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let script = env.ok(&["completions", shell], 0);
        assert!(script.contains("open-tape"), "{shell}: {script}");
    }
    // Loaded in bash, a subcommand's options complete.
    let script = env.path("tape-op.bash");
    std::fs::write(&script, env.ok(&["completions", "bash"], 0)).unwrap();
    let program = format!(
        "source '{}'\nf=$(complete -p tape-op | sed -E 's/.*-F ([^ ]+) .*/\\1/')\n\
         COMP_WORDS=(tape-op confirm --re); COMP_CWORD=2\n\"$f\" tape-op --re confirm\n\
         printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script.display()
    );
    let o = std::process::Command::new("bash")
        .args(["--norc", "-c", &program])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&o.stdout), "--retry\n");
    env.ok(&["generate-man", "man"], 0);
    for page in ["tape-op.1", "tape-op-confirm.1", "tape-op-open-tape.1"] {
        let o = std::process::Command::new("man")
            .arg("-l")
            .arg(env.path(&format!("man/{page}")))
            .env("MANPAGER", "cat")
            .output()
            .expect("man (man-db; scripts/services/tools installs it) renders the pages");
        assert!(o.status.success(), "{page}");
        assert!(String::from_utf8_lossy(&o.stdout).contains(page.trim_end_matches(".1")));
    }
}
