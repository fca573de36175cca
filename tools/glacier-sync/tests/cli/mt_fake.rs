//! The mt-aws-glacier commands against the fake Glacier HTTP service, through
//! the real AWS SDK.

use crate::mt::{Env, check_local_hash_catches_damage, round_trip, sync_modes};

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
