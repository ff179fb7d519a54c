"""The warm path of a report: a connection to read from once every local log line is ingested.

`meshctl daily` and friends first bring the replica up to date with the local logs. Usually
nothing changed since the last run, and proving that is all the work there is: this module
proves it with light imports only (sqlite3 and the file listing; no writer code, no hashlib,
no dataclasses) and otherwise hands over to the full path, `app.open_replica` +
`app.ingest_local`, which does exactly what it always did.

"Nothing to do" means, for every condition `open_replica` and `ingest_local` test:
- the schema is current, this device's id and epoch are stored, the price data's fingerprint
  is the one rows were priced with, and this device's info is the one last announced;
- every local log file has a cursor with the same device, inode, size and mtime, and no
  complete line after the cursor's offset (tailer.unchanged's rule; a test keeps them equal).
Any doubt (an error, a missing database) takes the full path, which reports errors as before.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

from meshd.config import Config

_META_KEYS = ("schema", "device_id", "epoch", "pricing", "announced")


def pricing_fingerprint(home: Path) -> str:
    """A cheap identity of the price data in force: the bytes of the embedded and installed files."""
    import zlib

    data = Path(__file__).resolve().parent / "data" / "pricing.json"
    h = zlib.crc32(data.read_bytes())
    try:
        h = zlib.crc32((home / "pricing.json").read_bytes(), h)  # pricing_store.USER_FILE
    except OSError:
        pass
    return f"crc32:{h:08x}"


def device_info(name: str) -> dict[str, str]:
    """What a device-info record says about this machine (app.announce_device)."""
    from meshd import __version__

    uname = getattr(os, "uname", None)
    if uname is not None:  # what platform.node/system/release return on POSIX, without importing it
        u = uname()
        host, system = str(u.nodename), f"{u.sysname} {u.release}".strip()
    else:  # pragma: no cover - Windows
        import platform

        host, system = platform.node(), f"{platform.system()} {platform.release()}".strip()
    return {"name": name, "host": host, "os": system, "version": __version__}


def info_key(info: dict[str, str]) -> str:
    """The `announced` meta value for a device info: its compact JSON, keys sorted."""
    from meshd.core.jsontext import dumps

    return dumps(info, indent=False)


def open_for_report(config: Config, *, progress: Callable[[int, int], None] | None = None
                    ) -> sqlite3.Connection:
    """A connection to this home's replica with every local log line ingested (no daemon needed)."""
    conn = _warm_connection(config)
    if conn is not None:
        return conn
    from meshd.app import ingest_local, open_replica

    replica = open_replica(config)
    ingest_local(replica, config, progress=progress, parallel=True)
    return replica.conn


def _warm_connection(config: Config) -> sqlite3.Connection | None:
    """An open connection when there is provably nothing to do, else None."""
    from meshd.errors import MeshError
    from meshd.store.db import connect

    if not os.path.isfile(config.db_path):
        return None
    try:
        conn = connect(config.db_path)
    except MeshError:
        return None
    try:
        if settled(conn, config) and ingested(conn, config):
            return conn
    except (sqlite3.Error, OSError, ValueError, MeshError):
        pass
    conn.close()
    return None


def settled(conn: sqlite3.Connection, config: Config) -> bool:
    """Whether `open_replica` would change nothing: schema, identity, prices, announcement."""
    from meshd.identity import default_device_name, device_id_for
    from meshd.store.schema import SCHEMA_VERSION

    meta = dict(conn.execute(f"SELECT key, value FROM meta WHERE key IN ({','.join('?' * len(_META_KEYS))})",
                             _META_KEYS))
    if meta.get("schema") is None or int(meta["schema"]) != SCHEMA_VERSION or meta.get("epoch") is None:
        return False
    if meta.get("device_id") != device_id_for(config.home, config.device_id):
        return False
    if meta.get("pricing") != pricing_fingerprint(config.home):
        return False
    return meta.get("announced") == info_key(device_info(config.device_name or default_device_name()))


LISTING_CACHE = "listing.cache"  # in the home: the cached folder listing (meshd/ingest/listing.py)


def ingested(conn: sqlite3.Connection, config: Config) -> bool:
    """Whether `ingest_local` would read nothing: every local file is at its cursor (`at_cursor`)."""
    cursors = {r[0]: r[1:] for r in conn.execute("SELECT path, dev, ino, size, mtime_ns, offset FROM files")}
    stat = os.stat
    get = cursors.get
    for path in local_paths(config):
        try:
            st = stat(path)
        except OSError:
            continue  # gone: ingest_local skips it too
        cur = get(path)
        if cur is None:
            return False
        # the usual case first: an unchanged file read to its end (at_cursor's answer is then True)
        if cur != (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_size) and not at_cursor(cur, st, path):
            return False
    return True


def local_paths(config: Config) -> list[str]:
    """The paths of `sources.local_files(...)`, Claude folders listed through the listing cache."""
    from meshd.ingest import listing
    from meshd.ingest.sources import claude_roots, codex_files, codex_roots

    paths: list[str] = []
    roots = claude_roots(configured=config.claude_dirs)
    if os.environ.get("MESHD_NO_LIST_CACHE"):
        from meshd.ingest.sources import claude_files

        for root in roots:
            paths.extend(f.path for f in claude_files(root))
    elif roots:
        cache_file = config.home / LISTING_CACHE
        cache = listing.load(cache_file)
        seen: dict[str, listing.Entry] = {}
        for root in roots:
            paths.extend(listing.jsonl_paths(str(root / "projects"), cache, seen))
        if seen != cache:
            listing.save(cache_file, seen)
    for root in codex_roots(configured=config.codex_dirs):
        paths.extend(f.path for f in codex_files(root))
    return paths


def at_cursor(cur: tuple[int, int, int, int, int], st: os.stat_result, path: str) -> bool:
    """tailer.unchanged for a (dev, ino, size, mtime_ns, offset) cursor row."""
    from meshd.ingest.sources import has_newline

    dev, ino, size, mtime_ns, offset = cur
    if dev != st.st_dev or ino != st.st_ino or size != st.st_size or mtime_ns != st.st_mtime_ns:
        return False
    return offset >= size or not has_newline(path, offset)


