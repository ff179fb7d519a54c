"""The replica: append to our own log, apply peers' batches, materialize usage for queries.

All writes go through `BEGIN IMMEDIATE` transactions, so meshctl and meshd may write at the
same time: SQLite serializes them, and each transaction re-reads what it builds on.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

import orjson

from meshd.core.dedup import Copy, dedup_key, exact_winners, rank, winners
from meshd.core.entry import UsageEntry
from meshd.core.oplog import MAX_BATCH_BYTES, Batch, Record, Vector, check_batch
from meshd.errors import LogRuleError
from meshd.store.forget import apply_forget, forgotten_ids
from meshd.store.limits import apply_ratelimit
from meshd.store.settings import apply_setting

Coster = Callable[[UsageEntry], float]
_SMALL_KINDS = {"ratelimit": apply_ratelimit, "setting": apply_setting}

_INSERT_USAGE = (
    "INSERT INTO usage(origin, epoch, seq, ts, provider, model, project, session, input, output,"
    " cw5, cw1, cr, reasoning, cost_logged, cost_calc, speed, sidechain, dkey, rid, rank_total, winner,"
    " dwinner, limit_reset) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
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


def model_label(e: UsageEntry) -> str:
    """The model name reports show: ccusage labels fast-mode Claude entries `<model>-fast` (not Codex ones)."""
    return e.model + "-fast" if e.speed == "fast" and e.model and e.provider != "codex" else e.model


BUCKET_MS = 900_000  # 15 minutes: every zone's UTC offset, and the default block length, is a multiple


def _bucket(ts: int) -> int:
    """Rollup bucket: 2*slot for a 15-minute slot's first millisecond, 2*slot+1 for the rest of it."""
    return (ts // BUCKET_MS) * 2 + (1 if ts % BUCKET_MS else 0)


_ROLLUP_FROM_USAGE = """
INSERT INTO rollup(bucket, origin, provider, model, n, ts_min, ts_max, input, output, cache_create,
                   cache_read, reasoning, cost_auto, cost_calc, cost_display, limit_reset)
SELECT t.bucket, t.origin, t.provider, t.model, COUNT(*), MIN(u.ts), MAX(u.ts), SUM(u.input),
       SUM(u.output), SUM(u.cw5 + u.cw1), SUM(u.cr), SUM(u.reasoning),
       SUM(COALESCE(u.cost_logged, u.cost_calc)), SUM(u.cost_calc), SUM(COALESCE(u.cost_logged, 0)),
       MIN(u.limit_reset)
FROM temp.touched t CROSS JOIN usage u INDEXED BY usage_ts
  ON u.winner = 1 AND u.origin = t.origin AND u.provider = t.provider AND u.model = t.model
 AND u.ts >= (t.bucket / 2) * 900000 + (t.bucket % 2) AND u.ts <= (t.bucket / 2) * 900000 + (t.bucket % 2) * 899999
GROUP BY t.bucket, t.origin, t.provider, t.model
"""


_ROLLUP_ADD = """
INSERT INTO rollup(bucket, origin, provider, model, n, ts_min, ts_max, input, output, cache_create,
                   cache_read, reasoning, cost_auto, cost_calc, cost_display, limit_reset)
VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
ON CONFLICT(bucket, origin, provider, model) DO UPDATE SET
    n = n + excluded.n, ts_min = MIN(ts_min, excluded.ts_min), ts_max = MAX(ts_max, excluded.ts_max),
    input = input + excluded.input, output = output + excluded.output,
    cache_create = cache_create + excluded.cache_create, cache_read = cache_read + excluded.cache_read,
    reasoning = reasoning + excluded.reasoning, cost_auto = cost_auto + excluded.cost_auto,
    cost_calc = cost_calc + excluded.cost_calc, cost_display = cost_display + excluded.cost_display,
    limit_reset = COALESCE(MIN(limit_reset, excluded.limit_reset), limit_reset, excluded.limit_reset)
"""


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
    conn.execute(
        "CREATE TEMP TABLE IF NOT EXISTS touched(bucket INTEGER, origin TEXT, provider TEXT, model TEXT,"
        " PRIMARY KEY(bucket, origin, provider, model)) WITHOUT ROWID"
    )
    keys = list(touched)
    conn.executemany("INSERT OR IGNORE INTO temp.touched VALUES(?,?,?,?)", keys)
    conn.executemany("DELETE FROM rollup WHERE bucket=? AND origin=? AND provider=? AND model=?", keys)
    conn.execute(_ROLLUP_FROM_USAGE)
    conn.execute("DELETE FROM temp.touched")


class Replica:
    """Log and usage operations on one open database. Callers hold the transaction."""

    def __init__(self, conn: sqlite3.Connection, device_id: str, epoch: int, coster: Coster) -> None:
        self.conn = conn
        self.device_id = device_id
        self.epoch = epoch
        self.coster = coster
        self.replaying = False

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
        hidden = self.device_id in forgotten_ids(self.conn)
        dumps = orjson.dumps
        self.conn.executemany(
            "INSERT INTO log(origin, epoch, seq, kind, body) VALUES(?,?,?,?,?)",
            [(self.device_id, self.epoch, seq, "usage", dumps(e.to_record())) for seq, e in items],
        )
        if not hidden:
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
        self._materialize_records(origin, epoch, recs)

    def _materialize_records(self, origin: str, epoch: int, recs: tuple[Record, ...]) -> None:
        """Derive the usage and device views from log records."""
        usage: list[tuple[int, UsageEntry]] = []
        loads, from_record = orjson.loads, UsageEntry.from_record
        hidden = origin in forgotten_ids(self.conn)  # a forgotten device's records never count
        for r in recs:
            if r.kind == "usage" and hidden:
                continue
            if r.kind == "forget":
                refresh_rollup(self.conn, apply_forget(self.conn, origin, r.body, _bucket))
            elif r.kind == "usage":
                try:
                    usage.append((r.seq, from_record(loads(r.body))))
                except (orjson.JSONDecodeError, ValueError, TypeError, AttributeError) as e:
                    raise LogRuleError(f"malformed usage record {origin[:8]}/{epoch}/{r.seq}: {e}") from None
            elif r.kind == "device":
                self._apply_device(origin, r.seq, r.body)
            elif r.kind in _SMALL_KINDS:  # ratelimit, setting (store/limits.py, store/settings.py)
                try:
                    _SMALL_KINDS[r.kind](self.conn, origin, r.body)
                except LogRuleError:
                    if not self.replaying:  # a rebuild skips what an older meshd let in
                        raise
        if usage and not hidden and any(r.kind == "forget" for r in recs):
            hidden = origin in forgotten_ids(self.conn)  # the batch forgot its own origin
        if usage and not hidden:
            self._insert_usages(origin, epoch, usage)

    def _insert_usages(self, origin: str, epoch: int, items: list[tuple[int, UsageEntry]]) -> None:
        """Insert usage rows, keeping exactly one winner per dedup key (core/dedup.py)."""
        keys = [dedup_key(e) for _seq, e in items]
        # Every copy of each touched group, stored and new; winners are recomputed per group.
        groups: dict[str, list[tuple[Copy, int | None, int | None]]] = {}  # (copy, row id, item index)
        where: dict[int, tuple[int, str, str, str, int, int]] = {}  # row id -> (ts, origin, provider, model, winner, dwinner)
        wanted = list({k for k in keys if k is not None})
        for i in range(0, len(wanted), 500):
            part = wanted[i : i + 500]
            for row_id, key, side, req, total, has_speed, o, ep, sq, ts, prov, model, win, dwin in self.conn.execute(
                "SELECT id, dkey, sidechain, rid, rank_total, speed IS NOT NULL, origin, epoch, seq, ts,"
                f" provider, model, winner, dwinner FROM usage WHERE dkey IN ({','.join('?' * len(part))})",
                part,
            ):
                c = Copy(bool(side), req, (0 if side else 1, total, has_speed), (o, ep, sq))
                groups.setdefault(key, []).append((c, row_id, None))
                where[row_id] = (ts, o, prov, model, win, dwin)
        for idx, ((seq, e), key) in enumerate(zip(items, keys)):
            if key is not None:
                c = Copy(e.is_sidechain, e.request_id, rank(e), (origin, epoch, seq))
                groups.setdefault(key, []).append((c, None, idx))
        new_winner: set[int] = set()
        new_dwinner: set[int] = set()
        changed: list[tuple[int, int, int]] = []  # (winner, dwinner, row id)
        for members in groups.values():
            copies = [m[0] for m in members]
            win, dwin = exact_winners(copies), winners(copies)
            for j, (_c, row_id, idx) in enumerate(members):
                if idx is not None:
                    if j in win:
                        new_winner.add(idx)
                    if j in dwin:
                        new_dwinner.add(idx)
                elif ((j in win), (j in dwin)) != (bool(where[row_id][4]), bool(where[row_id][5])):
                    changed.append((int(j in win), int(j in dwin), row_id))
        if changed:
            self.conn.executemany("UPDATE usage SET winner=?, dwinner=? WHERE id=?", changed)
        flipped = [r for w, _d, r in changed if w != where[r][4]]  # rows whose `winner` changed
        coster = self.coster
        costs = [coster(e) for _seq, e in items]
        self.conn.executemany(
            _INSERT_USAGE,
            [
                (
                    origin, epoch, seq, e.ts, e.provider, model_label(e), e.project, e.session_id,
                    e.input_tokens, e.output_tokens, e.cache_write_5m_tokens, e.cache_write_1h_tokens,
                    e.cache_read_tokens, e.reasoning_tokens, e.cost_usd, cost, e.speed,
                    1 if e.is_sidechain else 0, key, e.request_id, e.total_tokens,
                    1 if key is None or idx in new_winner else 0,
                    1 if key is None or idx in new_dwinner else 0, e.usage_limit_reset,
                )
                for idx, ((seq, e), key, cost) in enumerate(zip(items, keys, costs))
            ],
        )
        # Buckets whose stored rows changed are recomputed; the others just add the new winners.
        recompute = {(_bucket(where[r][0]),) + where[r][1:4] for r in flipped}
        agg: dict[tuple[int, str, str, str], list] = {}  # type: ignore[type-arg]
        for idx, ((_seq, e), key, cost) in enumerate(zip(items, keys, costs)):
            if key is not None and idx not in new_winner:
                continue
            k = (_bucket(e.ts), origin, e.provider, model_label(e))
            if k in recompute:
                continue
            logged = e.cost_usd
            a = agg.get(k)
            if a is None:
                agg[k] = [1, e.ts, e.ts, e.input_tokens, e.output_tokens, e.cache_creation_tokens,
                          e.cache_read_tokens, e.reasoning_tokens, cost if logged is None else logged, cost,
                          logged or 0.0, e.usage_limit_reset]
                continue
            a[0] += 1
            a[1] = min(a[1], e.ts)
            a[2] = max(a[2], e.ts)
            a[3] += e.input_tokens
            a[4] += e.output_tokens
            a[5] += e.cache_creation_tokens
            a[6] += e.cache_read_tokens
            a[7] += e.reasoning_tokens
            a[8] += cost if logged is None else logged
            a[9] += cost
            a[10] += logged or 0.0
            if e.usage_limit_reset is not None and (a[11] is None or e.usage_limit_reset < a[11]):
                a[11] = e.usage_limit_reset
        if agg:
            self.conn.executemany(_ROLLUP_ADD, [(*k, *a) for k, a in agg.items()])
        if recompute:
            refresh_rollup(self.conn, recompute)

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
