-- Version 3: tape volumes as a kind of store location. A tape archive is
-- an archive of a store of kind 'tape' like any other, its members rows of
-- `files`, so one search finds files on tape and in the cloud alike; these
-- tables add what tape needs: the volumes, where each member starts on
-- them, and tape-op's workflow (targets imported with their checksums,
-- backups of a target, the tape files holding each backup's parts).

-- One cartridge, named by the label in its file 0.
CREATE TABLE tape_volumes (
    id       INTEGER PRIMARY KEY,
    store_id INTEGER NOT NULL REFERENCES stores(id),
    label    TEXT NOT NULL UNIQUE,
    serial   TEXT NOT NULL DEFAULT '',       -- the barcode
    status   TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'full', 'closed', 'garbage')),
    online   INTEGER NOT NULL DEFAULT 0 CHECK (online IN (0, 1)),  -- in the drive
    created  INTEGER NOT NULL
);

-- A directory to write to tape as one tar stream.
CREATE TABLE tape_targets (
    id       INTEGER PRIMARY KEY,
    name     TEXT NOT NULL UNIQUE,           -- as the operator named it
    root     TEXT NOT NULL,                  -- its absolute path in `files`
    remote   INTEGER NOT NULL DEFAULT 0 CHECK (remote IN (0, 1)),
    imported INTEGER NOT NULL
);

-- The files of a target when it was imported, in tar-stream order, with
-- the checksums that reading back must find.
CREATE TABLE tape_target_files (
    target_id INTEGER NOT NULL REFERENCES tape_targets(id) ON DELETE CASCADE,
    seq       INTEGER NOT NULL,
    name      BLOB NOT NULL,                 -- relative to the target, raw bytes
    size      INTEGER NOT NULL,
    md5       BLOB NOT NULL,                 -- 16 bytes
    sha256    BLOB NOT NULL,                 -- 32 bytes
    PRIMARY KEY (target_id, seq),
    UNIQUE (target_id, name)
) WITHOUT ROWID;

-- A target assigned to a tape and its life there. Once wholly on tape it
-- is an archive (`archive_id`) whose files are the members.
CREATE TABLE tape_backups (
    id         INTEGER PRIMARY KEY,
    target_id  INTEGER NOT NULL REFERENCES tape_targets(id),
    volume_id  INTEGER NOT NULL REFERENCES tape_volumes(id), -- assigned to; then the one holding the last part
    status     TEXT NOT NULL CHECK (status IN ('assigned', 'partial', 'recorded', 'confirmed', 'failed')),
    archive_id INTEGER UNIQUE REFERENCES archives(id) ON DELETE SET NULL,
    created    INTEGER NOT NULL,
    archived   INTEGER,
    confirmed  INTEGER
);
CREATE INDEX tape_backups_target ON tape_backups(target_id);
CREATE INDEX tape_backups_volume ON tape_backups(volume_id, status);

-- A tape file holding one part of a backup's tar stream: block 0 is the
-- part header, the stream's bytes [stream_start, stream_end) follow from
-- block 1 in blocks of block_size (the last one shorter), except where
-- `blocks` lists a change of size ("BLOCK:OFFSET:SIZE ...": from that block
-- on, which begins at that stream offset, blocks are SIZE bytes).
CREATE TABLE tape_parts (
    backup_id    INTEGER NOT NULL REFERENCES tape_backups(id) ON DELETE CASCADE,
    part         INTEGER NOT NULL,
    volume_id    INTEGER NOT NULL REFERENCES tape_volumes(id),
    file_number  INTEGER NOT NULL,
    stream_start INTEGER NOT NULL,
    stream_end   INTEGER NOT NULL,
    block_size   INTEGER NOT NULL,
    blocks       TEXT NOT NULL DEFAULT '',
    complete     INTEGER NOT NULL CHECK (complete IN (0, 1)),  -- 0: goes on in the next part
    written      INTEGER NOT NULL,
    PRIMARY KEY (backup_id, part),
    UNIQUE (volume_id, file_number)
) WITHOUT ROWID;

-- Where a member of a tape archive starts: the volume, tape file and block
-- holding the first byte of its tar header (a GNU long-name header when it
-- has one), and its stream offset. `name` holds the member's raw name when
-- the path in `files` is not it (names that are not UTF-8).
CREATE TABLE tape_members (
    file_id     INTEGER PRIMARY KEY REFERENCES files(id) ON DELETE CASCADE,
    volume_id   INTEGER NOT NULL REFERENCES tape_volumes(id),
    file_number INTEGER NOT NULL,
    block       INTEGER NOT NULL,
    offset      INTEGER NOT NULL,
    name        BLOB
);
