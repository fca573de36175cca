-- Version 5: who may read each file. ACLs captured at archive time
-- (POSIX, NFSv4, NT security descriptors; see src/acl.rs), the names of
-- the principals they name, and a persistent cache of those names.

-- One row per ACL of a file: its format and the xattr value(s) as read,
-- so that a restore writes back exactly what was there.
CREATE TABLE file_acls (
    file_id    INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    seq        INTEGER NOT NULL,       -- POSIX, then NFSv4, then NT
    format     TEXT NOT NULL CHECK (format IN ('posix', 'nfs4', 'nt')),
    value      BLOB,                   -- posix: system.posix_acl_access; nfs4/nt: the xattr
    dflt       BLOB,                   -- posix: system.posix_acl_default
    owner      TEXT,                   -- nt: the descriptor's owner (principal key)
    owner_name TEXT COLLATE NOCASE,
    grp        TEXT,                   -- nt: its primary group
    grp_name   TEXT COLLATE NOCASE,
    PRIMARY KEY (file_id, seq)
) WITHOUT ROWID;
CREATE INDEX file_acls_owner ON file_acls(owner_name);

-- The v1 entries gain what a readable, searchable entry needs. `seq`
-- runs over all ACLs of the file in order; `acl` is the file_acls seq.
ALTER TABLE acl_entries ADD COLUMN acl INTEGER NOT NULL DEFAULT 0;
ALTER TABLE acl_entries ADD COLUMN kind TEXT NOT NULL DEFAULT 'allow'; -- allow, deny, audit, alarm, typeN
ALTER TABLE acl_entries ADD COLUMN flags INTEGER NOT NULL DEFAULT 0;
ALTER TABLE acl_entries ADD COLUMN name TEXT COLLATE NOCASE;          -- the principal's name at capture
ALTER TABLE acl_entries ADD COLUMN text TEXT NOT NULL DEFAULT '';     -- 'DENY alice READ'
CREATE INDEX acl_entries_name ON acl_entries(name);
CREATE INDEX acl_entries_principal ON acl_entries(principal);
CREATE INDEX acl_entries_deny ON acl_entries(file_id) WHERE kind = 'deny';

-- Names of principals (SIDs, uids, gids, NFSv4 names) as last resolved:
-- the resolver cache of earlier runs, so a directory is asked once.
CREATE TABLE principals (
    key   TEXT PRIMARY KEY,           -- 'sid:S-1-5-21-...', 'uid:1000', 'gid:50', 'nfs4:alice@x'
    name  TEXT NOT NULL,
    class TEXT,                       -- 'user', 'group', 'well_known'; NULL when not known
    seen  INTEGER NOT NULL
) WITHOUT ROWID;
