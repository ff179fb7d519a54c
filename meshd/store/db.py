"""Opening the replica: connection settings, schema, this device's identity and epoch."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from meshd.errors import StoreError
from meshd.store.schema import DDL, SCHEMA_VERSION


PAGE_SIZE = 16384  # bytes per page of a new replica


def connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    """A connection in WAL mode with a generous busy timeout (meshctl and meshd share the file)."""
    try:
        if readonly:
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30, isolation_level=None)
            conn.execute("PRAGMA query_only=1")
        else:
            new = not path.exists()
            conn = sqlite3.connect(path, timeout=30, isolation_level=None)
            if new:
                os.chmod(path, 0o600)
                # Set before the first table exists (a database keeps its page size): bulk writes
                # (a first ingest, a catch-up) take ~5 % less CPU than with SQLite's 4 KiB pages.
                conn.execute(f"PRAGMA page_size={PAGE_SIZE}")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=30000")
        conn.execute("PRAGMA cache_size=-32000")
        conn.execute("PRAGMA temp_store=MEMORY")
    except sqlite3.Error as e:
        raise StoreError(f"cannot open the replica {path}: {e}") from None
    return conn


# Tables derived from the log; an older schema drops them and they are rebuilt from the log.
DERIVED = ("usage", "rollup", "devices", "forgotten", "ratelimits", "settings")


def init_schema(conn: sqlite3.Connection) -> bool:
    """Create tables; True when derived tables must be rebuilt from the log (older schema).

    Refuses a database written by a newer meshd.
    """
    try:
        row = conn.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
    except sqlite3.OperationalError:
        row = None
    stale = False
    if row is not None:
        if int(row[0]) > SCHEMA_VERSION:
            raise StoreError(
                f"the replica was written by a newer meshd (schema {row[0]} > {SCHEMA_VERSION})",
                hint="upgrade meshd on this machine",
            )
        if int(row[0]) == SCHEMA_VERSION:
            return False
        stale = True
        conn.execute("BEGIN IMMEDIATE")
        try:
            if get_meta(conn, "schema") != str(SCHEMA_VERSION):
                for t in DERIVED:
                    conn.execute(f"DROP TABLE IF EXISTS {t}")
                conn.execute("DELETE FROM meta WHERE key IN ('announced', 'pricing')")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    # Every statement is idempotent, so two processes creating the schema at once is harmless.
    conn.executescript(DDL)
    conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES('schema', ?)", (str(SCHEMA_VERSION),))
    return stale


def get_meta(conn: sqlite3.Connection, key: str) -> str | None:
    row = conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
    return None if row is None else str(row[0])


def set_meta(conn: sqlite3.Connection, key: str, value: str) -> None:
    conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)", (key, value))


def ensure_identity(conn: sqlite3.Connection, device_id: str) -> int:
    """Record this device's id and return its current epoch, creating one with a new database.

    A database that was created for another device id (a copied home) gets a new epoch too,
    so two devices never write the same (device_id, epoch) log.
    """
    stored, epoch = get_meta(conn, "device_id"), get_meta(conn, "epoch")
    if stored == device_id and epoch is not None:  # the usual case: no write lock needed
        return int(epoch)
    conn.execute("BEGIN IMMEDIATE")
    try:
        stored = get_meta(conn, "device_id")
        epoch = get_meta(conn, "epoch")
        if stored != device_id or epoch is None:
            epoch = str(new_epoch())
            set_meta(conn, "device_id", device_id)
            set_meta(conn, "epoch", epoch)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return int(epoch)


def new_epoch() -> int:
    """A random positive 63-bit epoch (fits SQLite's signed INTEGER)."""
    import secrets  # only for a new database (start-up time of every report)

    return secrets.randbits(63) or 1
