"""WAL checkpoints in a thread of their own, off the writer's path.

A writer with `wal_autocheckpoint=0` never copies WAL pages into the database file inside its
commits; it calls `maybe()` after each one instead, and once the WAL has grown past a threshold
a PASSIVE checkpoint (which never blocks the writer or readers) runs on its own connection in a
background thread. SQLite does its copying without the GIL, so on a second core it costs the
writer nothing. Used by the daemon's writer (a catch-up) and by meshctl's bulk first ingest.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from meshd.errors import StoreError
from meshd.store.db import connect

log = logging.getLogger("meshd.store")
CHECKPOINT_BYTES = 32 << 20  # WAL size that starts a background checkpoint


class Checkpointer:
    """Background PASSIVE checkpoints of one database, one at a time."""

    def __init__(self, db_path: Path, threshold: int = CHECKPOINT_BYTES) -> None:
        self.db_path = db_path
        self.threshold = threshold
        self._wal = str(db_path) + "-wal"
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="meshd-checkpoint")
        self._conn: sqlite3.Connection | None = None  # lives in the checkpoint thread
        self._pending: Future[None] | None = None

    def maybe(self) -> None:
        """After a commit (any thread): start a checkpoint if the WAL is large and none is running."""
        if self._pending is not None and not self._pending.done():
            return
        try:
            if os.stat(self._wal).st_size < self.threshold:
                return
        except OSError:
            return
        try:
            self._pending = self._pool.submit(self._run)
        except RuntimeError:  # shut down
            self._pending = None

    def _run(self) -> None:
        try:
            if self._conn is None:
                self._conn = connect(self.db_path)
            self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except (sqlite3.Error, StoreError) as e:
            log.warning("background checkpoint failed: %s", e)

    def close(self, wait: bool = True) -> None:
        """Finish (wait=True) or abandon the running checkpoint, and close the connection.

        An abandoned PASSIVE checkpoint is safe: the WAL stays valid and a later one completes it.
        """
        def shut() -> None:
            if self._conn is not None:
                try:
                    self._conn.close()
                except sqlite3.Error:
                    pass
                self._conn = None

        try:
            self._pool.submit(shut)
        except RuntimeError:
            return
        self._pool.shutdown(wait=wait)
