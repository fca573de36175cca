//! Integration tests of the `journal` crate: one binary, one module per
//! concern.

mod crash;
mod locking;
mod props;
mod versions;

use glacier_treehash::TreeHash;
use journal::{ArchiveId, JobId, Record, RelName};

pub(crate) const TH: &str = "15aad04dbdebee9ad90ba889d8eb3b9045be355fed57c62894bc2b1ae259c8c8";

pub(crate) fn th() -> TreeHash {
    TH.parse().expect("valid tree hash")
}

pub(crate) fn created(time: u64, id: &str, mtime: Option<i64>, name: &str) -> Record {
    Record::Created {
        time,
        archive_id: ArchiveId::new(id).expect("valid id"),
        size: 1000 + time,
        mtime,
        treehash: th(),
        relname: RelName::new(name).expect("valid name"),
    }
}

pub(crate) fn deleted(time: u64, id: &str, name: &str) -> Record {
    Record::Deleted {
        time,
        archive_id: ArchiveId::new(id).expect("valid id"),
        relname: RelName::new(name).expect("valid name"),
    }
}

pub(crate) fn retrieve(time: u64, id: &str, job: &str) -> Record {
    Record::RetrieveJob {
        time,
        archive_id: ArchiveId::new(id).expect("valid id"),
        job_id: Some(JobId::new(job).expect("valid job id")),
    }
}
