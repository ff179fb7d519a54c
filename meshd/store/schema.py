"""The replica's schema. One SQLite file in WAL mode per data home."""

from __future__ import annotations

SCHEMA_VERSION = 6

DDL = """
CREATE TABLE IF NOT EXISTS meta(
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

-- Every record of every device's append-only log, ours and replicated ones. Immutable.
CREATE TABLE IF NOT EXISTS log(
    origin TEXT    NOT NULL,
    epoch  INTEGER NOT NULL,
    seq    INTEGER NOT NULL,
    kind   TEXT    NOT NULL,
    body   BLOB    NOT NULL,
    PRIMARY KEY(origin, epoch, seq)
) WITHOUT ROWID;

-- The version vector: per (origin, epoch) the highest contiguous seq held.
CREATE TABLE IF NOT EXISTS vector(
    origin  TEXT    NOT NULL,
    epoch   INTEGER NOT NULL,
    max_seq INTEGER NOT NULL,
    PRIMARY KEY(origin, epoch)
) WITHOUT ROWID;

-- Usage records materialized for queries; `winner` marks the copy that counts (core/dedup.py).
CREATE TABLE IF NOT EXISTS usage(
    id          INTEGER PRIMARY KEY,
    origin      TEXT    NOT NULL,
    epoch       INTEGER NOT NULL,
    seq         INTEGER NOT NULL,
    ts          INTEGER NOT NULL,
    provider    TEXT    NOT NULL,
    model       TEXT    NOT NULL,
    project     TEXT    NOT NULL,
    session     TEXT    NOT NULL,
    input       INTEGER NOT NULL,
    output      INTEGER NOT NULL,
    cw5         INTEGER NOT NULL,
    cw1         INTEGER NOT NULL,
    cr          INTEGER NOT NULL,
    reasoning   INTEGER NOT NULL,
    cost_logged REAL,
    cost_calc   REAL    NOT NULL,
    speed       TEXT,
    sidechain   INTEGER NOT NULL,
    dkey        TEXT,
    rid         TEXT,
    rank_total  INTEGER NOT NULL,
    winner      INTEGER NOT NULL,
    dwinner     INTEGER NOT NULL,
    limit_reset INTEGER
);
CREATE INDEX IF NOT EXISTS usage_dkey ON usage(dkey) WHERE dkey IS NOT NULL;
CREATE INDEX IF NOT EXISTS usage_ts ON usage(ts) WHERE winner = 1;
-- Rows where daily's dedup rule and the exact-key rule disagree (core/dedup.py): few.
CREATE INDEX IF NOT EXISTS usage_daily_diff ON usage(ts) WHERE winner != dwinner;

-- Winning usage pre-summed per (15-minute bucket, device, provider, model): what period reports and
-- blocks read. A bucket is either the first millisecond of a 15-minute slot (even) or the rest of it
-- (odd), so a bucket never straddles an hour-aligned block boundary (store/usage.py).
CREATE TABLE IF NOT EXISTS rollup(
    bucket       INTEGER NOT NULL,
    origin       TEXT    NOT NULL,
    provider     TEXT    NOT NULL,
    model        TEXT    NOT NULL,
    n            INTEGER NOT NULL,
    ts_min       INTEGER NOT NULL,
    ts_max       INTEGER NOT NULL,
    input        INTEGER NOT NULL,
    output       INTEGER NOT NULL,
    cache_create INTEGER NOT NULL,
    cache_read   INTEGER NOT NULL,
    reasoning    INTEGER NOT NULL,
    cost_auto    REAL    NOT NULL,
    cost_calc    REAL    NOT NULL,
    cost_display REAL    NOT NULL,
    limit_reset  INTEGER,
    PRIMARY KEY(bucket, origin, provider, model)
) WITHOUT ROWID;

-- Per-file ingest cursors (local only, never replicated).
CREATE TABLE IF NOT EXISTS files(
    path      TEXT PRIMARY KEY,
    source    TEXT    NOT NULL,
    dev       INTEGER NOT NULL,
    ino       INTEGER NOT NULL,
    size      INTEGER NOT NULL,
    mtime_ns  INTEGER NOT NULL,
    offset    INTEGER NOT NULL,
    head      TEXT    NOT NULL,
    lineno    INTEGER NOT NULL,
    entries   INTEGER NOT NULL DEFAULT 0,
    skipped   INTEGER NOT NULL DEFAULT 0,
    last_skip TEXT,
    generation INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

-- Devices as announced by their device-info records (latest by seq wins).
CREATE TABLE IF NOT EXISTS devices(
    device_id TEXT PRIMARY KEY,
    name      TEXT NOT NULL,
    host      TEXT NOT NULL DEFAULT '',
    os        TEXT NOT NULL DEFAULT '',
    version   TEXT NOT NULL DEFAULT '',
    updated   INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

-- Devices named by `forget` records (derived from the log; tombstones are never dropped).
-- Their usage never counts: hidden (winner = 0, dkey NULL) or, with purge, deleted.
CREATE TABLE IF NOT EXISTS forgotten(
    device_id TEXT PRIMARY KEY,
    purge     INTEGER NOT NULL DEFAULT 0,
    by_origin TEXT    NOT NULL DEFAULT '',
    at        INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

-- Official rate-limit readings (`ratelimit` records): per device and window its latest reading
-- (store/limits.py). `at` and `resets_at` are epoch ms.
CREATE TABLE IF NOT EXISTS ratelimits(
    origin    TEXT    NOT NULL,
    win       TEXT    NOT NULL,
    at        INTEGER NOT NULL,
    used_pct  REAL    NOT NULL,
    resets_at INTEGER,
    source    TEXT    NOT NULL,
    PRIMARY KEY(origin, win)
) WITHOUT ROWID;

-- Replicated settings (`setting` records): per key and writing device its latest write by hybrid
-- logical clock; the value of a key is the highest (hlc, origin) (store/settings.py). JSON values.
CREATE TABLE IF NOT EXISTS settings(
    key    TEXT    NOT NULL,
    origin TEXT    NOT NULL,
    hlc    INTEGER NOT NULL,
    value  TEXT    NOT NULL,
    PRIMARY KEY(key, origin)
) WITHOUT ROWID;

-- Peers' last known addresses, dialled again after a restart (local only, never replicated).
CREATE TABLE IF NOT EXISTS peers(
    address      TEXT PRIMARY KEY,
    device_id    TEXT,
    source       TEXT    NOT NULL DEFAULT 'known',
    last_success INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
"""
