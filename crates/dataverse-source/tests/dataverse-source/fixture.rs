//! A Dataverse database in the test server: Dataverse's schema for the
//! tables the backup reads, and helpers to add datasets and files.

use std::sync::atomic::{AtomicU32, Ordering};

use dataverse_source::DatabaseConfig;
use dataverse_source::postgres::{Client, NoTls};

pub(crate) const SCHEMA: &str = include_str!("schema.sql");

/// The server of `scripts/services/postgres`; fails (never skips) without it.
pub(crate) fn server() -> DatabaseConfig {
    let host = std::env::var("PERMAFROST_POSTGRES_HOST").unwrap_or_default();
    let port = std::env::var("PERMAFROST_POSTGRES_PORT").unwrap_or_default();
    assert!(
        !host.is_empty() && !port.is_empty(),
        "PERMAFROST_POSTGRES_HOST/PORT are not set: start PostgreSQL with \
         `eval \"$(scripts/services/postgres start)\"` (scripts/test does)"
    );
    DatabaseConfig::new(
        host,
        port.parse().expect("PERMAFROST_POSTGRES_PORT is a port"),
        "postgres",
        "postgres",
    )
}

static SEQ: AtomicU32 = AtomicU32::new(0);

/// A fresh database holding the Dataverse schema and a root dataverse
/// (id 1); dropped at the end.
pub(crate) struct TestDb {
    pub(crate) config: DatabaseConfig,
    admin: DatabaseConfig,
    client: Client,
}

impl TestDb {
    pub(crate) fn new(tag: &str) -> Self {
        Self::with_schema(tag, SCHEMA)
    }

    pub(crate) fn with_schema(tag: &str, schema: &str) -> Self {
        let admin = server();
        let name = format!(
            "dvsrc_{tag}_{}_{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        );
        let mut a = admin.connect().expect("connect to the test server");
        a.batch_execute(&format!("DROP DATABASE IF EXISTS {name}"))
            .expect("drop an old test database");
        a.batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("create the test database");
        let config = admin.with_dbname(&name);
        let mut client = postgres_connect(&config);
        client.batch_execute(schema).expect("load the schema");
        if schema == SCHEMA {
            client
                .batch_execute(
                    "INSERT INTO dvobject (id, dtype, createdate, modificationtime) \
                 VALUES (1, 'Dataverse', '2020-01-01', '2020-01-01'); \
                 SELECT setval('dvobject_id_seq', 100);",
                )
                .expect("root dataverse");
        }
        TestDb {
            config,
            admin,
            client,
        }
    }

    pub(crate) fn client(&mut self) -> &mut Client {
        &mut self.client
    }

    /// A dataset `doi:authority/identifier`; its id.
    pub(crate) fn dataset(&mut self, authority: &str, identifier: &str) -> i64 {
        self.dataset_full(authority, identifier, None)
    }

    /// A dataset harvested by a client of that name.
    pub(crate) fn harvested_dataset(
        &mut self,
        authority: &str,
        identifier: &str,
        client: &str,
    ) -> i64 {
        let row = self
            .client
            .query_one(
                "INSERT INTO harvestingclient (name, harvesttype, harvestingurl) \
                 VALUES ($1, 'oai', 'https://example.org/oai') RETURNING id",
                &[&client],
            )
            .expect("harvesting client");
        let hc: i32 = row.get(0);
        self.dataset_full(authority, identifier, Some(i64::from(hc)))
    }

    fn dataset_full(&mut self, authority: &str, identifier: &str, harvested: Option<i64>) -> i64 {
        let storage = format!("file://{authority}/{identifier}");
        let row = self
            .client
            .query_one(
                "INSERT INTO dvobject (dtype, owner_id, createdate, modificationtime, protocol, authority, identifier, storageidentifier) \
                 VALUES ('Dataset', 1, now(), now(), 'doi', $1, $2, $3) RETURNING id",
                &[&authority, &identifier, &storage],
            )
            .expect("dataset dvobject");
        let id: i32 = row.get(0);
        let id = i64::from(id);
        self.client
            .execute(
                "INSERT INTO dataset (id, harvestingclient_id, storagedriver, datasettype_id) \
                 VALUES ($1, $2, 'file', (SELECT id FROM datasettype WHERE name = 'dataset'))",
                &[&id, &harvested],
            )
            .expect("dataset row");
        id
    }

    /// A data file of `dataset`; its id.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn file(
        &mut self,
        dataset: i64,
        storage: Option<&str>,
        checksum_type: &str,
        checksum: &str,
        size: Option<i64>,
        created: &str,
    ) -> i64 {
        let row = self
            .client
            .query_one(
                "INSERT INTO dvobject (dtype, owner_id, createdate, modificationtime, storageidentifier) \
                 VALUES ('DataFile', $1, $2::text::timestamp, now(), $3) RETURNING id",
                &[&dataset, &created, &storage],
            )
            .expect("file dvobject");
        let id: i32 = row.get(0);
        let id = i64::from(id);
        self.client
            .execute(
                "INSERT INTO datafile (id, checksumtype, checksumvalue, contenttype, filesize, rootdatafileid, restricted) \
                 VALUES ($1, $2, $3, 'application/octet-stream', $4, -1, false)",
                &[&id, &checksum_type, &checksum, &size],
            )
            .expect("datafile row");
        id
    }

    /// Makes file `id` tabular with a preserved original.
    pub(crate) fn tabular(&mut self, id: i64, format: &str, original_size: Option<i64>) {
        self.client
            .execute(
                "INSERT INTO datatable (datafile_id, originalfileformat, originalfilesize, unf, casequantity, varquantity) \
                 VALUES ($1, $2, $3, 'UNF:6:abc==', 3, 2)",
                &[&id, &format, &original_size],
            )
            .expect("datatable row");
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.config.dbname.clone();
        if let Ok(mut a) = self.admin.connect() {
            let _ = a.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
    }
}

fn postgres_connect(c: &DatabaseConfig) -> Client {
    let mut config = dataverse_source::postgres::Config::new();
    config
        .host(&c.host)
        .port(c.port)
        .dbname(&c.dbname)
        .user(&c.user);
    config.connect(NoTls).expect("connect to the test database")
}

/// MD5 of `data`, hex.
pub(crate) fn md5(data: &[u8]) -> String {
    dataverse_source::Checksum::compute(&dataverse_source::ChecksumType::Md5, &mut &data[..])
        .unwrap()
        .unwrap()
}

/// SHA-256 of `data`, hex.
pub(crate) fn sha256(data: &[u8]) -> String {
    dataverse_source::Checksum::compute(&dataverse_source::ChecksumType::Sha256, &mut &data[..])
        .unwrap()
        .unwrap()
}
