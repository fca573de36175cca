//! Bundle limits at their boundaries.

use std::fs;

use bundler::{BundleLimits, BundlePlan, Entry};

use crate::common::walk_rel;

fn files(sizes: &[usize]) -> (tempfile::TempDir, Vec<Entry>) {
    let t = tempfile::tempdir().unwrap();
    for (i, s) in sizes.iter().enumerate() {
        fs::write(t.path().join(format!("f{i:04}")), vec![1u8; *s]).unwrap();
    }
    let e = walk_rel(t.path());
    (t, e)
}

fn sizes(plan: &BundlePlan) -> Vec<usize> {
    plan.bundles.iter().map(std::ops::Range::len).collect()
}

#[test]
fn count_limit_exactly_and_one_over() {
    let (_t, e) = files(&[1; 10]);
    let l = BundleLimits {
        max_members: 5,
        max_bytes: 1 << 20,
    };
    assert_eq!(sizes(&BundlePlan::new(&e, l).unwrap()), [5, 5]);
    let (_t, e) = files(&[1; 11]);
    assert_eq!(sizes(&BundlePlan::new(&e, l).unwrap()), [5, 5, 1]);
    let (_t, e) = files(&[1; 4]);
    assert_eq!(sizes(&BundlePlan::new(&e, l).unwrap()), [4]);
}

#[test]
fn byte_limit_exactly_and_one_over() {
    let l = BundleLimits {
        max_members: 1000,
        max_bytes: 100,
    };
    let (_t, e) = files(&[50, 50, 50]);
    assert_eq!(sizes(&BundlePlan::new(&e, l).unwrap()), [2, 1]);
    let (_t, e) = files(&[50, 51, 49]);
    assert_eq!(sizes(&BundlePlan::new(&e, l).unwrap()), [1, 2]);
    let (_t, e) = files(&[100, 0, 1]);
    assert_eq!(sizes(&BundlePlan::new(&e, l).unwrap()), [2, 1]);
}

#[test]
fn a_big_file_gets_its_own_bundle() {
    let l = BundleLimits {
        max_members: 1000,
        max_bytes: 100,
    };
    let (_t, e) = files(&[10, 101, 10, 100, 1]);
    let p = BundlePlan::new(&e, l).unwrap();
    assert_eq!(p.bundles, [0..1, 1..2, 2..3, 3..4, 4..5]);
    let (_t, e) = files(&[500]);
    assert_eq!(sizes(&BundlePlan::new(&e, l).unwrap()), [1]);
}

#[test]
fn defaults_and_invalid_limits() {
    let d = BundleLimits::default();
    assert_eq!((d.max_members, d.max_bytes), (1000, 500 << 20));
    let (_t, e) = files(&[1; 3]);
    assert!(
        BundlePlan::new(
            &e,
            BundleLimits {
                max_members: 0,
                max_bytes: 1
            }
        )
        .is_err()
    );
    assert!(BundlePlan::new(&[], d).unwrap().is_empty());
}

#[test]
fn every_entry_in_exactly_one_bundle_in_order() {
    let (_t, e) = files(&[3, 9, 1, 0, 20, 7, 7, 7, 2, 30, 1]);
    let l = BundleLimits {
        max_members: 3,
        max_bytes: 15,
    };
    let p = BundlePlan::new(&e, l).unwrap();
    let mut next = 0;
    for r in &p.bundles {
        assert_eq!(r.start, next);
        next = r.end;
        let b = &e[r.clone()];
        assert!(b.len() <= 3);
        let bytes: u64 = b.iter().map(|x| x.size).sum();
        assert!(bytes <= 15 || b.len() == 1);
    }
    assert_eq!(next, e.len());
}
