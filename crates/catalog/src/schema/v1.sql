-- Permafrost catalog schema, version 1. Never edit a released version:
-- add a migration (v2.sql, ...) instead. Times are seconds since the epoch
-- (UTC), sizes bytes.

CREATE TABLE stores (
    id       INTEGER PRIMARY KEY,
    name     TEXT NOT NULL UNIQUE,
    kind     TEXT NOT NULL,            -- 'local', 'glacier', 's3', 'tape', ...
    location TEXT                      -- a directory, a region, a bucket...
);

CREATE TABLE vaults (
    id       INTEGER PRIMARY KEY,
    store_id INTEGER NOT NULL REFERENCES stores(id),
    name     TEXT NOT NULL,
    UNIQUE (store_id, name)
);

CREATE TABLE runs (
    id          INTEGER PRIMARY KEY,
    uid         TEXT NOT NULL UNIQUE,  -- stable across catalogs (export/import)
    roots       TEXT NOT NULL,         -- JSON array of the root directories
    description TEXT NOT NULL DEFAULT '',
    options     TEXT NOT NULL DEFAULT '{}', -- JSON object
    started     INTEGER NOT NULL,
    ended       INTEGER,
    files       INTEGER NOT NULL DEFAULT 0,
    bytes       INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE archives (
    id          INTEGER PRIMARY KEY,
    run_id      INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    seq         INTEGER NOT NULL,      -- position within the run
    vault_id    INTEGER NOT NULL REFERENCES vaults(id),
    remote_id   TEXT,                  -- the store's archive id, once stored
    size        INTEGER NOT NULL DEFAULT 0,   -- plain (uncompressed) bytes
    stored_size INTEGER,               -- bytes in the store
    tree_hash   TEXT,
    description TEXT NOT NULL DEFAULT '',
    created     INTEGER NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('uploading', 'stored', 'deleted')),
    recipients  TEXT NOT NULL DEFAULT '[]', -- JSON array of key fingerprints, never keys
    files       INTEGER NOT NULL DEFAULT 0,
    UNIQUE (run_id, seq)
);
CREATE INDEX archives_vault_remote ON archives(vault_id, remote_id);

-- Directories that hold files, without the trailing '/' ('' is the root).
CREATE TABLE dirs (
    id   INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE
);

-- uid/gid to names, as last seen.
CREATE TABLE accounts (
    kind TEXT NOT NULL CHECK (kind IN ('u', 'g')),
    num  INTEGER NOT NULL,
    name TEXT NOT NULL,
    PRIMARY KEY (kind, num)
) WITHOUT ROWID;

CREATE TABLE files (
    id         INTEGER PRIMARY KEY,
    archive_id INTEGER NOT NULL REFERENCES archives(id) ON DELETE CASCADE,
    dir_id     INTEGER NOT NULL REFERENCES dirs(id),
    name       TEXT NOT NULL,
    size       INTEGER NOT NULL,
    mtime      INTEGER NOT NULL,
    atime      INTEGER,
    ctime      INTEGER,
    -- mode, atime, ctime, uid, gid, sha256, symlink target, member location
    -- inside the bundle: a compact blob (crates/catalog/src/record.rs).
    extra      BLOB NOT NULL
);
CREATE INDEX files_dir ON files(dir_id);
CREATE INDEX files_archive ON files(archive_id);

-- Search: one row per file, the distinct tokens of its path (see tokens.rs).
-- Contentless, no positions: phrases are checked on the path itself.
CREATE VIRTUAL TABLE file_fts USING fts5(
    tokens, content = '', columnsize = 0, detail = none, tokenize = 'ascii'
);
-- Segments are flushed at each commit or when this much is buffered.
INSERT INTO file_fts(file_fts, rank) VALUES ('hashsize', 16777216);
-- A contentless table forgets a row only when given its tokens again:
-- pf_file_tokens() (registered by the catalog on every connection) computes
-- exactly what was inserted. A change of tokenizer needs a migration that
-- rebuilds file_fts.
CREATE TRIGGER files_fts_delete AFTER DELETE ON files BEGIN
    INSERT INTO file_fts(file_fts, rowid, tokens) VALUES ('delete', old.id,
        pf_file_tokens((SELECT path FROM dirs WHERE id = old.dir_id), old.name));
END;

-- Search: one row per archive, the tokens of its and its run's description
-- and tags, in order.
CREATE VIRTUAL TABLE archive_fts USING fts5(tokens, raw UNINDEXED, detail = none, tokenize = 'ascii');
CREATE TRIGGER archives_fts_delete AFTER DELETE ON archives BEGIN
    DELETE FROM archive_fts WHERE rowid = old.id;
END;

CREATE TABLE tags (
    id   INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE
);
CREATE TABLE run_tags (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    tag_id INTEGER NOT NULL REFERENCES tags(id),
    PRIMARY KEY (run_id, tag_id)
) WITHOUT ROWID;
CREATE TABLE archive_tags (
    archive_id INTEGER NOT NULL REFERENCES archives(id) ON DELETE CASCADE,
    tag_id     INTEGER NOT NULL REFERENCES tags(id),
    PRIMARY KEY (archive_id, tag_id)
) WITHOUT ROWID;
CREATE INDEX run_tags_tag ON run_tags(tag_id);
CREATE INDEX archive_tags_tag ON archive_tags(tag_id);

CREATE TABLE retrieval_jobs (
    id            INTEGER PRIMARY KEY,
    vault_id      INTEGER NOT NULL REFERENCES vaults(id),
    job_id        TEXT NOT NULL,
    archive_id    INTEGER REFERENCES archives(id) ON DELETE SET NULL,
    range_start   INTEGER,
    range_end     INTEGER,
    tier          TEXT NOT NULL,
    requested     INTEGER NOT NULL,
    state         TEXT NOT NULL CHECK (state IN ('requested', 'ready', 'downloaded', 'failed', 'expired')),
    expires       INTEGER,
    downloaded_to TEXT,
    UNIQUE (vault_id, job_id)
);
CREATE INDEX retrieval_jobs_state ON retrieval_jobs(state);

-- Access control entries of a file, in order; a later issue fills them.
CREATE TABLE acl_entries (
    file_id   INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    seq       INTEGER NOT NULL,
    principal TEXT NOT NULL,
    allow     INTEGER NOT NULL CHECK (allow IN (0, 1)),
    rights    INTEGER NOT NULL,
    PRIMARY KEY (file_id, seq)
) WITHOUT ROWID;
