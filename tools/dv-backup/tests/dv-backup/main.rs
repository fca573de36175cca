//! dv-backup end to end: the real binary against a real PostgreSQL (the
//! Dataverse database and the status database), sshd and an SMTP sink,
//! all started by `scripts/test` (`scripts/services/*`).

mod fixture;
mod runs;
mod store;
