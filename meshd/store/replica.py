"""The replica: append to our own log, apply peers' batches, materialize usage for queries.

All writes go through `BEGIN IMMEDIATE` transactions, so meshctl and meshd may write at the
same time: SQLite serializes them, and each transaction re-reads what it builds on.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import orjson

from meshd.core.entry import UsageEntry
from meshd.core.oplog import MAX_BATCH_BYTES, Batch, Record, Vector, check_batch, is_device_id
from meshd.errors import LogRuleError
from meshd.store.forget import apply_forget, forgotten_ids
from meshd.store.limits import apply_ratelimit
from meshd.store.settings import apply_setting

if TYPE_CHECKING:
    from meshd.store.materialize import Row, Scan, UsageMaterializer

Coster = Callable[[UsageEntry], float]
_SMALL_KINDS = {"ratelimit": apply_ratelimit, "setting": apply_setting}

# Log rows per INSERT statement: one statement with many VALUES rows binds and steps once for
# them all (~0.9 us per row instead of ~1.5 us with executemany, one statement per row).
LOG_ROWS_PER_INSERT = 100

__all__ = ["Coster", "Replica", "refresh_rollup", "transaction", "model_label", "BUCKET_MS"]


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A write transaction that takes the lock up front."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def model_label(e: UsageEntry) -> str:
    """The model name reports show: ccusage labels fast-mode Claude entries `<model>-fast` (not Codex ones)."""
    return e.model + "-fast" if e.speed == "fast" and e.model and e.provider != "codex" else e.model


BUCKET_MS = 900_000  # 15 minutes: every zone's UTC offset, and the default block length, is a multiple


def _bucket(ts: int) -> int:
    """Rollup bucket: 2*slot for a 15-minute slot's first millisecond, 2*slot+1 for the rest of it."""
    return (ts // BUCKET_MS) * 2 + (1 if ts % BUCKET_MS else 0)


def refresh_rollup(conn: sqlite3.Connection, touched: Iterable[tuple[int, str, str, str]] | None) -> None:
    """Recompute rollup buckets from the winning usage rows; None recomputes everything."""
    if touched is None:
        conn.execute("DELETE FROM rollup")
        conn.execute(
            "INSERT INTO rollup SELECT (ts / 900000) * 2 + (ts % 900000 != 0), origin, provider, model,"
            " COUNT(*), MIN(ts), MAX(ts), SUM(input), SUM(output), SUM(cw5 + cw1), SUM(cr), SUM(reasoning),"
            " SUM(COALESCE(cost_logged, cost_calc)), SUM(cost_calc), SUM(COALESCE(cost_logged, 0)),"
            " MIN(limit_reset) FROM usage WHERE winner = 1 GROUP BY 1, origin, provider, model"
        )
        return
    keys = list(touched)
    if not keys:
        return
    from meshd.store.materialize import create_temp, recompute_touched

    create_temp(conn)
    conn.executemany("INSERT OR IGNORE INTO temp.touched VALUES(?,?,?,?)", keys)
    recompute_touched(conn)


class Replica:
    """Log and usage operations on one open database. Callers hold the transaction."""

    def __init__(self, conn: sqlite3.Connection, device_id: str, epoch: int, coster: Coster) -> None:
        self.conn = conn
        self.device_id = device_id
        self.epoch = epoch
        self.coster = coster
        self.replaying = False
        self._usage: UsageMaterializer | None = None

    @property
    def usage(self) -> UsageMaterializer:
        """The bulk usage writer (store/materialize.py), imported on first use: read-only
        commands never load it."""
        if self._usage is None:
            from meshd.store.materialize import UsageMaterializer

            self._usage = UsageMaterializer(self.conn, self.coster)
        return self._usage

    # -- the version vector -------------------------------------------------------------

    def vector(self) -> Vector:
        return {(o, e): s for o, e, s in self.conn.execute("SELECT origin, epoch, max_seq FROM vector")}

    def held(self, origin: str, epoch: int) -> int:
        row = self.conn.execute(
            "SELECT max_seq FROM vector WHERE origin=? AND epoch=?", (origin, epoch)
        ).fetchone()
        return 0 if row is None else int(row[0])

    def _set_held(self, origin: str, epoch: int, seq: int) -> None:
        self.conn.execute(
            "INSERT INTO vector(origin, epoch, max_seq) VALUES(?,?,?)"
            " ON CONFLICT(origin, epoch) DO UPDATE SET max_seq=excluded.max_seq",
            (origin, epoch, seq),
        )

    # -- writing ------------------------------------------------------------------------

    def append_local(self, kind: str, bodies: Iterable[bytes]) -> tuple[int, int]:
        """Append records to this device's log; returns (first_seq, last_seq). Inside a transaction."""
        held = self.held(self.device_id, self.epoch)
        recs = tuple(Record(seq, kind, body) for seq, body in enumerate(bodies, start=held + 1))
        if recs:
            self._store(self.device_id, self.epoch, recs)
            self._set_held(self.device_id, self.epoch, recs[-1].seq)
        return held + 1, held + len(recs)

    def append_usage(self, entries: Iterable[UsageEntry]) -> tuple[int, int]:
        """Append usage entries as records of this device's log. Inside a transaction."""
        from meshd.store.materialize import record_row

        ds = [e.to_record() for e in entries]
        dumps = orjson.dumps
        return self.append_usage_rows([dumps(d) for d in ds], [record_row(d) for d in ds])

    def append_usage_rows(self, bodies: list[bytes], rows: list[Row]) -> tuple[int, int]:
        """Append usage records to this device's log, given decoded as well (`rows[i]` is
        `materialize.record_row` of the record `bodies[i]` encodes): nothing is decoded again.
        Returns (first_seq, last_seq). Inside a transaction."""
        held = self.held(self.device_id, self.epoch)
        if bodies:
            self._insert_log_rows(self.device_id, self.epoch,
                                  [v for seq, b in enumerate(bodies, start=held + 1) for v in (seq, "usage", b)])
            if self.device_id not in forgotten_ids(self.conn):
                self.usage.materialize_rows(self.device_id, self.epoch, held + 1, rows)
            self._set_held(self.device_id, self.epoch, held + len(bodies))
        return held + 1, held + len(bodies)

    def apply_batch(self, batch: Batch, scan: Scan | None = None, *, checked: bool = False) -> int:
        """Apply a peer's batch on top of what we hold; returns records applied. Inside a transaction.

        Re-delivery is harmless (records we hold are skipped); a batch that would leave a hole
        raises LogRuleError and changes nothing. Done ahead, in another thread: `scan` is
        `scan_batch(batch)` (or None), `checked` that `check_batch(batch, batch.prev_seq)` passed.
        """
        held = self.held(batch.origin, batch.epoch)
        if batch.last_seq <= held:
            return 0
        if batch.prev_seq < held:  # overlaps what we hold: keep only the new tail
            recs = tuple(r for r in batch.records if r.seq > held)
            batch = Batch(batch.origin, batch.epoch, held, batch.last_seq, recs)
        if not checked:
            check_batch(batch, held)
        elif batch.prev_seq != held:  # the rest was checked; a tail of a checked batch stays valid
            raise LogRuleError(f"batch prev_seq {batch.prev_seq} does not match held seq {held}")
        if batch.origin == self.device_id and batch.epoch == self.epoch:
            raise LogRuleError("a peer holds more of this device's current log than this device")
        self._store(batch.origin, batch.epoch, batch.records, scan)
        self._set_held(batch.origin, batch.epoch, batch.last_seq)
        return len(batch.records)

    def rebuild(self) -> int:
        """Materialize every log record again (after a schema change); returns records replayed."""
        n = 0
        for origin, body in self.conn.execute("SELECT origin, body FROM log WHERE kind='forget'").fetchall():
            try:  # tombstones first, so no order of replay counts a forgotten device
                apply_forget(self.conn, origin, bytes(body), _bucket)
            except LogRuleError:
                pass
        logs = self.conn.execute("SELECT origin, epoch, max_seq FROM vector").fetchall()
        self.replaying = True  # a failed rebuild rolls back and the replica is not used
        for origin, epoch, _max in logs:
            after = 0
            while (b := self.read_after(origin, epoch, after, 8 << 20)) is not None:
                self._materialize_records(origin, epoch, b.records)
                after = b.last_seq
                n += len(b.records)
        self.replaying = False
        return n

    # -- reading the log ------------------------------------------------------------------

    def read_after(self, origin: str, epoch: int, after: int, max_bytes: int = MAX_BATCH_BYTES) -> Batch | None:
        """The next batch of a log after seq `after`, under `max_bytes`; None when there is none."""
        recs: list[Record] = []
        append = recs.append
        size = 0
        cur = self.conn.execute(
            "SELECT seq, kind, body FROM log WHERE origin=? AND epoch=? AND seq>? ORDER BY seq",
            (origin, epoch, after),
        )
        while rows := cur.fetchmany(256):
            for seq, kind, body in rows:
                size += len(body) + len(kind) + 16
                if size > max_bytes and recs:
                    break
                append(Record(seq, kind, body))
            else:
                continue
            break
        cur.close()
        if not recs:
            return None
        return Batch(origin, epoch, after, recs[-1].seq, tuple(recs))

    # -- materializing ------------------------------------------------------------------

    def _store(self, origin: str, epoch: int, recs: tuple[Record, ...], scan: Scan | None = None) -> None:
        """Insert log records and materialize them."""
        self._insert_log(origin, epoch, recs)
        self._materialize_records(origin, epoch, recs, scan)

    def _insert_log(self, origin: str, epoch: int, recs: tuple[Record, ...]) -> None:
        self._insert_log_rows(origin, epoch, [v for r in recs for v in (r.seq, r.kind, r.body)])

    def _insert_log_rows(self, origin: str, epoch: int, params: list[object]) -> None:
        """Insert log records given flat as [seq, kind, body, seq, kind, body, ...]."""
        if is_device_id(origin) and type(epoch) is int:  # checked values: bound once, in the SQL text
            row = f"('{origin}', {epoch}, ?, ?, ?)"
            sql = "INSERT INTO log(origin, epoch, seq, kind, body) VALUES"
            step = 3 * LOG_ROWS_PER_INSERT
            full = len(params) - len(params) % step
            if full:
                many = sql + ",".join([row] * LOG_ROWS_PER_INSERT)
                for i in range(0, full, step):
                    self.conn.execute(many, params[i:i + step])
            if full < len(params):
                self.conn.executemany(sql + row, [params[i:i + 3] for i in range(full, len(params), 3)])
        else:
            self.conn.executemany(
                "INSERT INTO log(origin, epoch, seq, kind, body) VALUES(?,?,?,?,?)",
                [(origin, epoch, *params[i:i + 3]) for i in range(0, len(params), 3)],
            )

    def _materialize_records(self, origin: str, epoch: int, recs: tuple[Record, ...], scan: Scan | None = None
                             ) -> None:
        """Derive the views from log records already stored: one dispatch per record kind.

        Usage records are materialized together, in SQL, after the others (store/materialize.py);
        a forgotten device's usage never counts, even when this very batch forgot it.
        """
        usage: list[bytes] = []
        for r in recs:
            kind = r.kind
            if kind == "usage":
                usage.append(r.body)
            elif kind == "forget":
                refresh_rollup(self.conn, apply_forget(self.conn, origin, r.body, _bucket))
            elif kind == "device":
                self._apply_device(origin, r.seq, r.body)
            elif kind in _SMALL_KINDS:  # ratelimit, setting (store/limits.py, store/settings.py)
                try:
                    _SMALL_KINDS[kind](self.conn, origin, r.body)
                except LogRuleError:
                    if not self.replaying:  # a rebuild skips what an older meshd let in
                        raise
        if usage and origin not in forgotten_ids(self.conn):
            self.usage.materialize(origin, epoch, recs[0].seq, recs[-1].seq, usage, scan)

    def _apply_device(self, origin: str, seq: int, body: bytes) -> None:
        try:
            d = orjson.loads(body)
            name = str(d["name"])[:200]
        except (orjson.JSONDecodeError, KeyError, TypeError) as e:
            raise LogRuleError(f"malformed device record from {origin[:8]}: {e}") from None
        self.conn.execute(
            "INSERT INTO devices(device_id, name, host, os, version, updated) VALUES(?,?,?,?,?,?)"
            " ON CONFLICT(device_id) DO UPDATE SET name=excluded.name, host=excluded.host,"
            " os=excluded.os, version=excluded.version, updated=excluded.updated"
            " WHERE excluded.updated >= devices.updated",
            (origin, name, str(d.get("host", ""))[:200], str(d.get("os", ""))[:100],
             str(d.get("version", ""))[:50], int(d.get("at", seq)) if isinstance(d.get("at", seq), int) else seq),
        )

