-- Permafrost catalog on PostgreSQL, version 3: work units of archive runs
-- shared by many hosts. A run planned for workers (`work_runs`, its spec
-- opaque to the catalog: what the workers need to know) is cut into units
-- (`work_units`, each one's content opaque too: what a worker walks). A
-- worker claims a unit (`holder`, until `held_until`, Unix seconds of the
-- server's clock, `lease` seconds of the run's from the claim) and renews the claim while it lives; a unit whose claim
-- ran out is claimed again (`attempts` counts the claims).

CREATE TABLE work_runs (
    run_uid TEXT PRIMARY KEY,
    spec    BYTEA NOT NULL,
    lease   INTEGER NOT NULL CHECK (lease > 0),
    state   TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'closed')),
    created BIGINT NOT NULL
);

CREATE TABLE work_units (
    run_uid    TEXT NOT NULL REFERENCES work_runs(run_uid) ON DELETE CASCADE,
    unit       INTEGER NOT NULL,
    content    BYTEA NOT NULL,
    state      TEXT NOT NULL DEFAULT 'pending'
               CHECK (state IN ('pending', 'claimed', 'done', 'failed')),
    holder     TEXT,
    held_until BIGINT,
    attempts   INTEGER NOT NULL DEFAULT 0,
    result     BYTEA,
    error      TEXT,
    PRIMARY KEY (run_uid, unit)
);

-- The units a worker may claim, found without reading the done ones.
CREATE INDEX work_units_open ON work_units(run_uid, unit)
    WHERE state IN ('pending', 'claimed');
