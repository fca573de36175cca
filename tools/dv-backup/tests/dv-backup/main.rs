//! dv-backup end to end: the real binary against a real PostgreSQL (the
//! Dataverse database and the status database), sshd, an SMTP sink and an
//! S3 server (moto), all started by `scripts/test` (`scripts/services/*`).

mod check;
mod fixture;
mod runs;
mod s3;
mod store;
