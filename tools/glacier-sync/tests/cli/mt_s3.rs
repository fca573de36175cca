//! The mt-aws-glacier commands against the S3 test server (moto, from
//! `scripts/services/moto`): the same scenarios as for the local store and
//! the fake Glacier service, with the vault a key prefix of a bucket in
//! `DEEP_ARCHIVE`.

use crate::mt::{
    Env, bad_input, check_local_hash_catches_damage, filters_and_part_size, killed_sync_resumes,
    mt_aws_glacier_journal_as_is, round_trip, sync_modes, upload_file,
};

#[test]
fn s3_round_trip() {
    round_trip(&Env::s3());
}

#[test]
fn s3_sync_modes() {
    sync_modes(&Env::s3());
}

#[test]
fn s3_check_local_hash_catches_damage() {
    check_local_hash_catches_damage(&Env::s3());
}

#[test]
fn s3_killed_sync_resumes() {
    killed_sync_resumes(&Env::s3());
}

#[test]
fn s3_mt_aws_glacier_journal_as_is() {
    mt_aws_glacier_journal_as_is(&Env::s3());
}

#[test]
fn s3_bad_input() {
    bad_input(&Env::s3());
}

#[test]
fn s3_upload_file() {
    upload_file(&Env::s3());
}

#[test]
fn s3_filters_and_part_size() {
    filters_and_part_size(&Env::s3());
}
