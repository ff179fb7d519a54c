"""The replica: append to our own log, apply peers' batches, materialize usage for queries.

All writes go through `BEGIN IMMEDIATE` transactions, so meshctl and meshd may write at the
same time: SQLite serializes them, and each transaction re-reads what it builds on.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

import orjson

from meshd.core.dedup import Position, Rank, beats, dedup_key, rank
from meshd.core.entry import UsageEntry
from meshd.core.oplog import MAX_BATCH_BYTES, Batch, Record, Vector, check_batch
from meshd.errors import LogRuleError

Coster = Callable[[UsageEntry], float]

_INSERT_USAGE = (
    "INSERT INTO usage(origin, epoch, seq, ts, provider, model, project, session, input, output,"
    " cw5, cw1, cr, reasoning, cost_logged, cost_calc, speed, sidechain, dkey, rank_total, winner,"
    " limit_reset) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
)


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


class Replica:
    """Log and usage operations on one open database. Callers hold the transaction."""

    def __init__(self, conn: sqlite3.Connection, device_id: str, epoch: int, coster: Coster) -> None:
        self.conn = conn
        self.device_id = device_id
        self.epoch = epoch
        self.coster = coster

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
        held = self.held(self.device_id, self.epoch)
        items = list(enumerate(entries, start=held + 1))
        if not items:
            return held + 1, held
        dumps = orjson.dumps
        self.conn.executemany(
            "INSERT INTO log(origin, epoch, seq, kind, body) VALUES(?,?,?,?,?)",
            [(self.device_id, self.epoch, seq, "usage", dumps(e.to_record())) for seq, e in items],
        )
        self._insert_usages(self.device_id, self.epoch, items)
        self._set_held(self.device_id, self.epoch, items[-1][0])
        return held + 1, items[-1][0]

    def apply_batch(self, batch: Batch) -> int:
        """Apply a peer's batch on top of what we hold; returns records applied. Inside a transaction.

        Re-delivery is harmless (records we hold are skipped); a batch that would leave a hole
        raises LogRuleError and changes nothing.
        """
        held = self.held(batch.origin, batch.epoch)
        if batch.last_seq <= held:
            return 0
        if batch.prev_seq < held:  # overlaps what we hold: keep only the new tail
            recs = tuple(r for r in batch.records if r.seq > held)
            batch = Batch(batch.origin, batch.epoch, held, batch.last_seq, recs)
        check_batch(batch, held)
        if batch.origin == self.device_id and batch.epoch == self.epoch:
            raise LogRuleError("a peer holds more of this device's current log than this device")
        self._store(batch.origin, batch.epoch, batch.records)
        self._set_held(batch.origin, batch.epoch, batch.last_seq)
        return len(batch.records)

    # -- reading the log ------------------------------------------------------------------

    def read_after(self, origin: str, epoch: int, after: int, max_bytes: int = MAX_BATCH_BYTES) -> Batch | None:
        """The next batch of a log after seq `after`, under `max_bytes`; None when there is none."""
        recs: list[Record] = []
        size = 0
        cur = self.conn.execute(
            "SELECT seq, kind, body FROM log WHERE origin=? AND epoch=? AND seq>? ORDER BY seq",
            (origin, epoch, after),
        )
        for seq, kind, body in cur:
            cost = len(body) + len(kind) + 16
            if recs and size + cost > max_bytes:
                break
            recs.append(Record(seq, kind, bytes(body)))
            size += cost
        cur.close()
        if not recs:
            return None
        return Batch(origin, epoch, after, recs[-1].seq, tuple(recs))

    # -- materializing ------------------------------------------------------------------

    def _store(self, origin: str, epoch: int, recs: tuple[Record, ...]) -> None:
        """Insert log records and materialize them."""
        self.conn.executemany(
            "INSERT INTO log(origin, epoch, seq, kind, body) VALUES(?,?,?,?,?)",
            [(origin, epoch, r.seq, r.kind, r.body) for r in recs],
        )
        usage: list[tuple[int, UsageEntry]] = []
        loads, from_record = orjson.loads, UsageEntry.from_record
        for r in recs:
            if r.kind == "usage":
                try:
                    usage.append((r.seq, from_record(loads(r.body))))
                except (orjson.JSONDecodeError, ValueError, TypeError, AttributeError) as e:
                    raise LogRuleError(f"malformed usage record {origin[:8]}/{epoch}/{r.seq}: {e}") from None
            elif r.kind == "device":
                self._apply_device(origin, r.seq, r.body)
            # ratelimit / setting / forget records are materialized by later layers.
        if usage:
            self._insert_usages(origin, epoch, usage)

    def _insert_usages(self, origin: str, epoch: int, items: list[tuple[int, UsageEntry]]) -> None:
        """Insert usage rows, keeping exactly one winner per dedup key (core/dedup.py)."""
        keys = [dedup_key(e) for _seq, e in items]
        # best[key] = (rank, position, row id if already stored, index into items if new)
        best: dict[str, tuple[Rank, Position, int | None, int | None]] = {}
        wanted = list({k for k in keys if k is not None})
        for i in range(0, len(wanted), 500):
            part = wanted[i : i + 500]
            for rid, key, side, total, has_speed, o, ep, sq in self.conn.execute(
                "SELECT id, dkey, sidechain, rank_total, speed IS NOT NULL, origin, epoch, seq FROM usage"
                f" WHERE winner=1 AND dkey IN ({','.join('?' * len(part))})",
                part,
            ):
                best[key] = ((0 if side else 1, total, has_speed), (o, ep, sq), rid, None)
        old_winner = {k: v[2] for k, v in best.items()}
        for idx, ((seq, e), key) in enumerate(zip(items, keys)):
            if key is None:
                continue
            r, pos = rank(e), (origin, epoch, seq)
            cur = best.get(key)
            if cur is None or beats(r, pos, cur[0], cur[1]):
                best[key] = (r, pos, None, idx)
        new_winner = {v[3] for v in best.values() if v[3] is not None}
        demote = [(rid,) for k, rid in old_winner.items() if best[k][2] is None]
        if demote:
            self.conn.executemany("UPDATE usage SET winner=0 WHERE id=?", demote)
        coster = self.coster
        self.conn.executemany(
            _INSERT_USAGE,
            [
                (
                    origin, epoch, seq, e.ts, e.provider, e.model, e.project, e.session_id,
                    e.input_tokens, e.output_tokens, e.cache_write_5m_tokens, e.cache_write_1h_tokens,
                    e.cache_read_tokens, e.reasoning_tokens, e.cost_usd, coster(e), e.speed,
                    1 if e.is_sidechain else 0, key, e.total_tokens,
                    1 if key is None or idx in new_winner else 0, e.usage_limit_reset,
                )
                for idx, ((seq, e), key) in enumerate(zip(items, keys))
            ],
        )

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
