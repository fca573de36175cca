//! The mt-aws-glacier commands against the fake Glacier HTTP service, through
//! the real AWS SDK.

use crate::mt::{
    Env, bad_input, check_local_hash_catches_damage, filters_and_part_size, killed_sync_resumes,
    mt_aws_glacier_journal_as_is, round_trip, sync_modes, upload_file,
};

#[test]
fn fake_round_trip() {
    round_trip(&Env::fake());
}

#[test]
fn fake_sync_modes() {
    sync_modes(&Env::fake());
}

#[test]
fn fake_check_local_hash_catches_damage() {
    check_local_hash_catches_damage(&Env::fake());
}

#[test]
fn fake_killed_sync_resumes() {
    killed_sync_resumes(&Env::fake());
}

#[test]
fn fake_mt_aws_glacier_journal_as_is() {
    mt_aws_glacier_journal_as_is(&Env::fake());
}

#[test]
fn fake_bad_input() {
    bad_input(&Env::fake());
}

#[test]
fn fake_upload_file() {
    upload_file(&Env::fake());
}

#[test]
fn fake_unreachable_endpoint_and_bad_credentials() {
    let env = Env::fake();
    crate::mt::make_tree(&env);
    crate::mt::ok(&env.sync(&[]));
    let before = std::fs::read(env.path("journal.log")).unwrap();
    let cfg = env.path("glacier.cfg").display().to_string();
    let base = [
        "sync",
        "--dir",
        "src",
        "--vault",
        crate::mt::VAULT,
        "--journal",
        "journal.log",
        "--config",
        &cfg,
    ];
    // Nothing listens on port 1.
    let mut args = base.to_vec();
    args.extend(["--endpoint-url", "http://127.0.0.1:1"]);
    let out = crate::run(env.tmp.path(), &args, None);
    assert_eq!(out.status.code(), Some(4), "{}", crate::stderr(&out));
    assert!(
        crate::stderr(&out).contains("photos"),
        "{}",
        crate::stderr(&out)
    );
    // A key the service does not know.
    let text = std::fs::read_to_string(env.path("glacier.cfg")).unwrap();
    std::fs::write(
        env.path("glacier.cfg"),
        text.replace("key=AKIDTESTKEY", "key=AKIDWRONG"),
    )
    .unwrap();
    let endpoint = match &env.backend {
        crate::mt::Backend::Fake(f) => f.endpoint(),
        crate::mt::Backend::Local | crate::mt::Backend::S3(_) => unreachable!(),
    };
    let mut args = base.to_vec();
    args.extend(["--endpoint-url", &endpoint]);
    let out = crate::run(env.tmp.path(), &args, None);
    assert_eq!(out.status.code(), Some(4), "{}", crate::stderr(&out));
    assert!(
        crate::stderr(&out).contains("security token"),
        "{}",
        crate::stderr(&out)
    );
    assert_eq!(std::fs::read(env.path("journal.log")).unwrap(), before);
}

#[test]
fn fake_filters_and_part_size() {
    filters_and_part_size(&Env::fake());
}
