-- Permafrost catalog on PostgreSQL, version 2: what the archive engine
-- keeps beside an SQLite catalog file (bundle indexes, retrieval job
-- plans, runs whose export is pending, uploads awaiting an inventory),
-- kept in the database instead so that every host sharing the catalog
-- sees it. A row is a value of some kind under a key; a host may hold it
-- for a while (`holder`, until `held_until`, Unix seconds of the server's
-- clock), as a claim other hosts respect until it expires.

CREATE TABLE side_values (
    kind       TEXT NOT NULL,
    key        TEXT NOT NULL COLLATE "C",
    value      BYTEA NOT NULL,
    holder     TEXT,
    held_until BIGINT,
    PRIMARY KEY (kind, key)
);
