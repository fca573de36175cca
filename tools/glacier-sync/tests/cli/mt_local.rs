//! The mt-aws-glacier commands against the local directory store.

use crate::mt::{Env, check_local_hash_catches_damage, round_trip, sync_modes};

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
