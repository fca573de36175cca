//! Remote import and archive through the real sshd that
//! `scripts/services/sshd start` runs on 127.0.0.1 (scripts/test starts it).

use crate::{Env, make_tree, tree};

fn ssh_command() -> String {
    std::env::var("PERMAFROST_SSH_COMMAND").unwrap_or_else(|_| {
        panic!(
            "PERMAFROST_SSH_COMMAND is not set: start the test sshd with \
             `eval \"$(scripts/services/sshd start)\"` (scripts/test does this)"
        )
    })
}

#[test]
fn remote_import_archive_confirm_restore_over_ssh() {
    let ssh = ssh_command();
    let env = Env::new(&format!(
        "block_size = 65536\nbuffer_size = 1048576\nssh_command = {ssh}\n"
    ));
    // The "remote" host is this machine through sshd; names with spaces,
    // a newline, a quote and non-UTF-8 bytes must survive.
    let src = env.path("remote data/it's here");
    make_tree(&src, 11, 250_000);
    let name = src.display().to_string();
    std::fs::write(env.path("list.txt"), format!("{name}\n")).unwrap();
    let out = env.ok(&["import", "list.txt"], 0);
    assert!(out.contains(&format!("{name}: 4 files")), "{out}");
    env.ok(&["open-tape", "T1", "--online"], 0);
    env.ok(&["assign"], 0);
    env.ok(&["archive"], 0);
    env.ok(&["confirm", "next"], 0);
    env.ok(&["restore", &name, "--to", "out"], 0);
    assert_eq!(tree(&env.path("out")), tree(&src));
    // A broken ssh command is an error naming it, not an empty target.
    let bad = Env::new("ssh_command = ssh -F /dev/null -o BatchMode=yes -p 1 root@127.0.0.1\n");
    std::fs::create_dir(bad.path("x")).unwrap();
    let out = bad.ok(&["import", "--dirs", "/nonexistent"], 1);
    assert!(
        out.contains("ssh/tar exited") || out.contains("remote /nonexistent"),
        "{out}"
    );
}
