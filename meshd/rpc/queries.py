"""The daemon side of the local API's reads: a small thread pool with its own read-only SQLite
connections (so reports and watchers never queue behind gossip's reader or the writer), and the
vector-changed feed that wakes watchers.

`VectorFeed` is how the daemon says "my version vector changed" (after local ingest, a peer's batch
or a forget). Each watcher holds one coalescing flag, not a queue of events: a slow watcher costs
O(1) memory however far it falls behind, and reads what it missed from the immutable log by its
own (origin, epoch, seq) cursor when it gets to it.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from meshd.config import Config
from meshd.errors import StoreError

T = TypeVar("T")


class VectorFeed:
    """Wakes every subscriber when the daemon's version vector changes."""

    def __init__(self) -> None:
        self._subs: set[asyncio.Event] = set()
        self.closed = False
        self.changes = 0

    def changed(self) -> None:
        """Called by the daemon (event loop thread) when it holds new records."""
        self.changes += 1
        for ev in self._subs:
            ev.set()

    def subscribe(self) -> asyncio.Event:
        ev = asyncio.Event()
        self._subs.add(ev)
        return ev

    def unsubscribe(self, ev: asyncio.Event) -> None:
        self._subs.discard(ev)

    @property
    def subscribers(self) -> int:
        return len(self._subs)

    def close(self) -> None:
        """Shutdown: wake everyone; watchers see `closed` and end their streams."""
        self.closed = True
        for ev in self._subs:
            ev.set()


class QueryRunner:
    """Runs query-layer functions on `threads` threads, each with its own read-only connection."""

    def __init__(self, config: Config, threads: int = 2) -> None:
        self.config = config
        self._local = threading.local()
        self._conns: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="meshd-query")

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            try:  # read-only file, but temp tables allowed (day_rows uses one)
                conn = sqlite3.connect(f"file:{self.config.db_path}?mode=ro", uri=True, timeout=30,
                                       isolation_level=None, check_same_thread=False)
                conn.execute("PRAGMA busy_timeout=30000")
                conn.execute("PRAGMA temp_store=MEMORY")
            except sqlite3.Error as e:
                raise StoreError(f"cannot open the replica {self.config.db_path}: {e}") from None
            self._local.conn = conn
            with self._lock:
                self._conns.append(conn)
        return conn

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """fn(connection) on a query thread."""
        return await asyncio.get_running_loop().run_in_executor(self._pool, lambda: fn(self._conn()))

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            for c in self._conns:
                try:
                    c.close()
                except sqlite3.Error:
                    pass
            self._conns.clear()
