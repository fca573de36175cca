-- Version 6: backup sets (glacier-sync backup): a named set, its cycles
-- (a FULL and its incrementals) and levels (one backup run each, tied to
-- the archive-flow run that stored it), the set's view of its tree, and
-- tombstones for paths deleted between runs.
CREATE TABLE backup_sets (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    vault TEXT NOT NULL,
    spec TEXT NOT NULL,
    max_level INTEGER NOT NULL,
    cap INTEGER,
    min_keep_cycles INTEGER NOT NULL,
    encrypt_to TEXT NOT NULL,
    created INTEGER NOT NULL
);
CREATE TABLE backup_cycles (
    id INTEGER PRIMARY KEY,
    set_id INTEGER NOT NULL REFERENCES backup_sets(id),
    number INTEGER NOT NULL,
    started INTEGER NOT NULL,
    closed INTEGER,
    pruned INTEGER,
    UNIQUE (set_id, number)
);
CREATE TABLE backup_levels (
    id INTEGER PRIMARY KEY,
    cycle_id INTEGER NOT NULL REFERENCES backup_cycles(id),
    level INTEGER NOT NULL,
    run_uid TEXT,
    started INTEGER NOT NULL,
    ended INTEGER,
    files INTEGER NOT NULL DEFAULT 0,
    bytes INTEGER NOT NULL DEFAULT 0,
    stored_bytes INTEGER NOT NULL DEFAULT 0,
    deleted INTEGER NOT NULL DEFAULT 0,
    UNIQUE (cycle_id, level)
);
-- Every path the set has seen: the level that first recorded its current
-- presence, and the level at which it was found gone (a tombstone).
CREATE TABLE backup_paths (
    set_id INTEGER NOT NULL REFERENCES backup_sets(id),
    path TEXT NOT NULL,
    seen_level INTEGER NOT NULL REFERENCES backup_levels(id),
    gone_level INTEGER REFERENCES backup_levels(id),
    PRIMARY KEY (set_id, path)
) WITHOUT ROWID;
CREATE TABLE backup_tombstones (
    level_id INTEGER NOT NULL REFERENCES backup_levels(id),
    path TEXT NOT NULL,
    PRIMARY KEY (level_id, path)
) WITHOUT ROWID;
-- Paths that (re)appeared at a level: with the tombstones, the set's tree
-- at any level (a path is there when its latest event is an appearance).
CREATE TABLE backup_appeared (
    level_id INTEGER NOT NULL REFERENCES backup_levels(id),
    path TEXT NOT NULL,
    PRIMARY KEY (level_id, path)
) WITHOUT ROWID;
