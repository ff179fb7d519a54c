"""The daemon's replica: one writer thread (the only write connection) and one reader thread.

Every call is short and runs off the event loop; the async methods implement
`meshd.sync.gossip.LogStore`. Reads (vectors, pull streams) use a read-only connection in WAL
mode, so a large catch-up stream never blocks local ingest. WAL checkpoints run in a third
thread (store/checkpoint.py), so a catch-up's writer spends no time copying pages into the
database file.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from meshd.config import Config
from meshd.core.oplog import Batch, Vector, check_batch
from meshd.errors import LogGapError, LogRuleError, OwnLogAhead
from meshd.store.checkpoint import CHECKPOINT_BYTES, Checkpointer
from meshd.store.db import connect, new_epoch, set_meta
from meshd.store.forget import forgotten_ids
from meshd.store.materialize import Scan, scan_batch
from meshd.store.replica import Replica, transaction

log = logging.getLogger("meshd.store")
T = TypeVar("T")
READ_AHEAD_MAX = 4  # batches read ahead for pull streams (each under 1 MiB)


class ReplicaStore:
    """Async access to one replica for the daemon."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self._w = ThreadPoolExecutor(1, thread_name_prefix="meshd-writer")
        self._r = ThreadPoolExecutor(1, thread_name_prefix="meshd-reader")
        self.replica: Replica | None = None  # lives in the writer thread
        self._ro: Replica | None = None  # lives in the reader thread
        self.device_id = ""
        self.epoch = 0
        self._ahead: dict[tuple[str, int, int, int], asyncio.Future[Batch | None]] = {}  # batches read ahead
        self._ckpt = Checkpointer(config.db_path)

    async def _write(self, fn: Callable[[], T]) -> T:
        def run() -> T:
            try:
                return fn()
            finally:
                if self.replica is not None:
                    self._ckpt.maybe()

        return await asyncio.get_running_loop().run_in_executor(self._w, run)

    async def _read(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._r, fn)

    @property
    def rw(self) -> Replica:
        assert self.replica is not None
        return self.replica

    @property
    def ro(self) -> Replica:
        assert self._ro is not None
        return self._ro

    async def open(self) -> ReplicaStore:
        """Open (creating) the replica in the writer thread and a read-only view in the reader."""
        from meshd.app import open_replica

        def rw() -> Replica:
            rep = open_replica(self.config)
            rep.conn.execute("PRAGMA wal_autocheckpoint=0")  # the checkpoint thread does it
            rep.conn.execute(f"PRAGMA journal_size_limit={CHECKPOINT_BYTES * 2}")
            return rep

        self.replica = await self._write(rw)
        self.device_id, self.epoch = self.replica.device_id, self.replica.epoch

        def ro() -> Replica:
            return Replica(connect(self.config.db_path, readonly=True), self.device_id, self.epoch, lambda e: 0.0)

        self._ro = await self._read(ro)
        return self

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        self._ckpt.close(wait=False)
        for pool, rep in ((self._w, self.replica), (self._r, self._ro)):
            if rep is not None:
                try:
                    await loop.run_in_executor(pool, rep.conn.close)
                except sqlite3.Error:
                    pass
            pool.shutdown(wait=False)

    # -- LogStore ------------------------------------------------------------------------------

    async def vector(self) -> Vector:
        return await self._read(lambda: self.ro.vector())

    async def held(self, origin: str, epoch: int) -> int:
        return await self._read(lambda: self.ro.held(origin, epoch))

    async def read_after(self, origin: str, epoch: int, after: int, max_bytes: int) -> Batch | None:
        """The next batch of a log; a full batch starts reading the one after it (a stream's next ask).

        The log is append-only, so a batch read ahead is still exact when it is asked for (at
        most it lacks records appended since, which the following batch then carries).
        """
        key = (origin, epoch, after, max_bytes)
        fut = self._ahead.pop(key, None)
        b = await (fut if fut is not None else self._read(lambda: self.ro.read_after(origin, epoch, after, max_bytes)))
        if b is not None and sum(len(r.body) for r in b.records) > max_bytes // 2:
            nxt = (origin, epoch, b.last_seq, max_bytes)
            while len(self._ahead) >= READ_AHEAD_MAX:  # abandoned streams: forget the oldest
                self._ahead.pop(next(iter(self._ahead)))
            ahead = asyncio.ensure_future(self._read(lambda: self.ro.read_after(*nxt)))
            ahead.add_done_callback(lambda f: f.cancelled() or f.exception())  # never "unretrieved"
            self._ahead[nxt] = ahead
        return b

    async def forgotten(self) -> set[str]:
        return await self._read(lambda: forgotten_ids(self.ro.conn))

    async def apply(self, batch: Batch) -> int:
        """Apply a peer's batch in one transaction; on a malformed record keep the valid prefix.

        The batch's bodies are scanned here, in the event loop's thread, so the writer (the
        bottleneck of a catch-up) does not.
        """
        try:
            check_batch(batch, batch.prev_seq)
            checked = True
        except LogRuleError:
            checked = False  # the writer finds and reports it, keeping the valid prefix
        scan = scan_batch(batch.records) if checked else None
        return await self._write(lambda: self._apply(batch, scan, checked))

    def _apply(self, b: Batch, scan: Scan | None = None, checked: bool = False) -> int:
        r = self.rw
        try:
            with transaction(r.conn):
                return self._apply_checked(b, scan, checked)
        except (LogGapError, OwnLogAhead):
            raise
        except LogRuleError as e:
            n = 0  # salvage the records before the bad one, one per transaction (error path only)
            for rec in b.records:
                held = r.held(b.origin, b.epoch)
                if rec.seq <= held:
                    continue
                try:
                    with transaction(r.conn):
                        n += self._apply_checked(Batch(b.origin, b.epoch, rec.seq - 1, rec.seq, (rec,)))
                except LogRuleError:
                    break
            raise LogRuleError(f"{e} (kept {n} valid records before it)") from None

    def _apply_checked(self, b: Batch, scan: Scan | None = None, checked: bool = False) -> int:
        r = self.rw
        held = r.held(b.origin, b.epoch)
        if b.origin == r.device_id and b.epoch == r.epoch and b.last_seq > held:
            raise OwnLogAhead(f"peer holds seq {b.last_seq} of this device's current log, we hold {held}")
        if b.prev_seq > held:
            raise LogGapError(f"batch starts after seq {b.prev_seq} but seq {held} is held")
        return r.apply_batch(b, scan, checked=checked)

    async def rotate_epoch(self) -> int:
        """Start a new epoch for this device (a restored backup); returns it."""

        def rotate() -> int:
            e = new_epoch()
            with transaction(self.rw.conn):
                set_meta(self.rw.conn, "epoch", str(e))
            self.rw.epoch = e
            return e

        self.epoch = await self._write(rotate)
        self.ro.epoch = self.epoch
        return self.epoch

    # -- daemon extras ---------------------------------------------------------------------------

    async def ingest(self) -> int:
        """Ingest new local log lines; returns records appended (cheap when nothing changed)."""
        from meshd.app import ingest_local

        return await self._write(lambda: ingest_local(self.rw, self.config).entries)

    async def append_local(self, kind: str, bodies: list[bytes]) -> int:
        def go() -> int:
            with transaction(self.rw.conn):
                first, last = self.rw.append_local(kind, bodies)
            return last - first + 1

        return await self._write(go)

    async def append_forget(self, device_id: str, purge: bool, at_ms: int) -> bool:
        """Append a forget record (store/forget.append_forget); False when it would change nothing."""
        from meshd.store.forget import append_forget

        return await self._write(lambda: append_forget(self.rw, device_id, purge, at_ms))

    async def load_peers(self) -> list[tuple[str, str | None, str, int]]:
        """Known peers (address, device id, source, last success ms) from earlier runs."""
        return await self._read(lambda: self.ro.conn.execute(
            "SELECT address, device_id, source, last_success FROM peers").fetchall())

    async def save_peer(self, address: str, device_id: str | None, source: str, last_success_ms: int) -> None:
        def go() -> None:
            self.rw.conn.execute(
                "INSERT INTO peers(address, device_id, source, last_success) VALUES(?,?,?,?)"
                " ON CONFLICT(address) DO UPDATE SET device_id=excluded.device_id,"
                " source=excluded.source, last_success=excluded.last_success",
                (address, device_id, source, last_success_ms))

        await self._write(go)

    async def drop_peers(self, device_id: str) -> None:
        await self._write(lambda: self.rw.conn.execute("DELETE FROM peers WHERE device_id=?", (device_id,)))
