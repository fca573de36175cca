//! The mt-aws-glacier commands against the local directory store.

use crate::mt::{
    Env, bad_input, check_local_hash_catches_damage, filters_and_part_size, killed_sync_resumes,
    mt_aws_glacier_journal_as_is, round_trip, sync_modes, upload_file,
};

#[test]
fn local_round_trip() {
    round_trip(&Env::local());
}

#[test]
fn local_sync_modes() {
    sync_modes(&Env::local());
}

#[test]
fn local_check_local_hash_catches_damage() {
    check_local_hash_catches_damage(&Env::local());
}

#[test]
fn local_killed_sync_resumes() {
    killed_sync_resumes(&Env::local());
}

#[test]
fn local_mt_aws_glacier_journal_as_is() {
    mt_aws_glacier_journal_as_is(&Env::local());
}

#[test]
fn local_bad_input() {
    bad_input(&Env::local());
}

#[test]
fn local_upload_file() {
    upload_file(&Env::local());
}

#[test]
fn local_filters_and_part_size() {
    filters_and_part_size(&Env::local());
}
