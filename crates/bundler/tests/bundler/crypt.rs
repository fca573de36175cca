//! age: our bundles decrypt with the `age` CLI, and the CLI's output with
//! our reader; X25519, SSH and passphrase.

use std::fs;

use bundler::{
    BundleError, BundleOptions, Decryption, Encryption, ExtractOptions, Selection, extract_stream,
    generate_x25519, list,
};

use crate::common::{bundle, describe, need_tool, sample_tree, sh, walk_rel};

#[test]
fn age_cli_decrypts_x25519_bundles_and_tar_reads_them() {
    need_tool("age");
    need_tool("zstd");
    let src = tempfile::tempdir().unwrap();
    sample_tree(src.path());
    let (secret, public) = generate_x25519();
    let opts = BundleOptions {
        encryption: Some(Encryption::recipients(&[public]).unwrap()),
        ..BundleOptions::default()
    };
    let (bytes, index) = bundle(&walk_rel(src.path()), opts);
    let work = tempfile::tempdir().unwrap();
    let b = work.path().join("b.tar.zst.age");
    fs::write(&b, &bytes).unwrap();
    let key = work.path().join("key.txt");
    fs::write(&key, &secret).unwrap();
    let out = work.path().join("out");
    fs::create_dir(&out).unwrap();
    sh(&format!(
        "age -d -i {} {} | zstd -dc | tar -xf - -C {}",
        key.display(),
        b.display(),
        out.display()
    ));
    fs::remove_dir_all(out.join(".permafrost")).unwrap();
    assert_eq!(describe(src.path()), describe(&out));
    // And ours reads it back; without a key it says what is missing.
    let dec = Decryption::identity_file(&secret).unwrap();
    assert_eq!(list(&bytes[..], Some(&dec)).unwrap(), index);
    let e = list(&bytes[..], None).unwrap_err();
    assert!(
        matches!(e, BundleError::Crypto { .. }) && e.to_string().contains("no identity"),
        "{e}"
    );
    let (other, _) = generate_x25519();
    let e = list(
        &bytes[..],
        Some(&Decryption::identity_file(&other).unwrap()),
    )
    .unwrap_err();
    assert!(matches!(e, BundleError::Crypto { .. }), "{e}");
}

#[test]
fn ssh_ed25519_recipient_interoperates() {
    need_tool("age");
    need_tool("ssh-keygen");
    let work = tempfile::tempdir().unwrap();
    let key = work.path().join("id");
    sh(&format!(
        "ssh-keygen -q -t ed25519 -N '' -f {}",
        key.display()
    ));
    let public = fs::read_to_string(key.with_extension("pub")).unwrap();
    let src = tempfile::tempdir().unwrap();
    sample_tree(src.path());
    let opts = BundleOptions {
        encryption: Some(Encryption::recipients(&[public.trim()]).unwrap()),
        ..BundleOptions::default()
    };
    let (bytes, _) = bundle(&walk_rel(src.path()), opts);
    let b = work.path().join("b.age");
    fs::write(&b, &bytes).unwrap();
    let out = work.path().join("out");
    fs::create_dir(&out).unwrap();
    sh(&format!(
        "age -d -i {} {} | zstd -dc | tar -xf - -C {}",
        key.display(),
        b.display(),
        out.display()
    ));
    assert!(out.join("dir/a.txt").exists());
    // Ours decrypts with the SSH private key too.
    let dec = Decryption::identity_file(&fs::read_to_string(&key).unwrap()).unwrap();
    let out2 = tempfile::tempdir().unwrap();
    extract_stream(
        &bytes[..],
        &Selection::All,
        out2.path(),
        &ExtractOptions {
            decryption: Some(dec),
            ..ExtractOptions::default()
        },
    )
    .unwrap();
    assert_eq!(describe(src.path()), describe(out2.path()));
}

#[test]
fn we_decrypt_what_the_age_cli_encrypted() {
    need_tool("age");
    need_tool("zstd");
    need_tool("tar");
    let work = tempfile::tempdir().unwrap();
    let (secret, public) = generate_x25519();
    let src = work.path().join("src");
    fs::create_dir(&src).unwrap();
    sample_tree(&src);
    let (bytes, _) = bundle(&walk_rel(&src), BundleOptions::default());
    let plain = work.path().join("b.tar.zst");
    fs::write(&plain, &bytes).unwrap();
    let enc = work.path().join("b.tar.zst.age");
    sh(&format!(
        "age -r {public} -o {} {}",
        enc.display(),
        plain.display()
    ));
    let dec = Decryption::identity_file(&secret).unwrap();
    let out = tempfile::tempdir().unwrap();
    extract_stream(
        fs::File::open(&enc).unwrap(),
        &Selection::All,
        out.path(),
        &ExtractOptions {
            decryption: Some(dec),
            ..ExtractOptions::default()
        },
    )
    .unwrap();
    assert_eq!(describe(&src), describe(out.path()));
}

#[test]
fn passphrase_round_trip() {
    let src = tempfile::tempdir().unwrap();
    sample_tree(src.path());
    let opts = BundleOptions {
        encryption: Some(Encryption::passphrase("correct horse")),
        ..BundleOptions::default()
    };
    let (bytes, index) = bundle(&walk_rel(src.path()), opts);
    assert_eq!(
        list(&bytes[..], Some(&Decryption::passphrase("correct horse"))).unwrap(),
        index
    );
    let e = list(&bytes[..], Some(&Decryption::passphrase("wrong"))).unwrap_err();
    assert!(matches!(e, BundleError::Crypto { .. }), "{e}");
}
