"""Usage rows from usage records, in bulk and in SQL: the replica's write path.

One call materializes every `usage` record of a log range `(origin, epoch, lo..hi)` already
stored in the `log` table, whatever its size (a record the daemon appends, a peer's 1 MiB batch,
a first ingest's chunk, a rebuild), in a handful of statements:

1. **rows**: SQLite reads the fields out of the JSON bodies (`->>`) and inserts the usage rows,
   priced and provisionally winning. Only bodies whose meaning cannot differ from
   `UsageEntry.from_record` take this path: flat objects of numbers and strings (no null, true,
   false, arrays, nested objects or escapes; `scan_bodies` checks a whole batch in a few passes
   of C over its bytes) whose fields have the right types. The rest, usually none, are decoded
   in Python by `from_record`, which refuses malformed ones; so a record means the same whatever
   batch it arrives in. (One difference, for hostile bodies only: a key written twice, which
   to_record never does, is read at its first occurrence, where orjson takes the last.)
2. **cost**: Claude rows are priced in SQL from per-model rates (`temp.price`, from the process's
   price table) by the same arithmetic, in the same order, as `core/pricing.entry_cost`; other
   providers, and plain cost functions, are priced by the Python coster.
3. **dedup** (`core/dedup.py`, same rule): only groups with two or more copies need a choice.
   For those, window functions rank every copy, stored and new, by (rank, log position) and set
   `winner` (best copy per `(message.id, requestId)`) and `dwinner` (daily's sidechain-replay
   rule), so the result never depends on arrival order.
4. **rollup**: new winners are added to their 15-minute buckets with one GROUP BY; buckets where
   a stored row gained or lost `winner` are recomputed from `usage`.

Our own ingest takes a shorter road, `materialize_rows`: its entries were just parsed (in the parse
workers, by `record_row`), so nothing is read back out of JSON; rows are priced in Python by the
coster itself, the winners of groups whose copies all arrive together are chosen in Python by
core/dedup's own functions, and only groups that also have stored copies go through the window
functions of step 3. Both roads give identical rows (tests/test_materialize.py).
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Iterable
from typing import Any

import orjson

from meshd.core.dedup import dedup_key
from meshd.core.entry import UsageEntry
from meshd.core.oplog import Record
from meshd.errors import LogRuleError
from meshd.store.replica import model_label

Coster = Callable[[UsageEntry], float]
MAX_TOKENS = 1 << 53  # core/entry.py's bound on token counts

# A decoded usage record, as `materialize_rows` takes it: what the log body says, without price,
# flags or log position. Plain tuples: parse workers build them and pickle them back cheaply.
Row = tuple[int, str, str, str, str, int, int, int, int, int, int, "float | None", "str | None", int,
            "str | None", "str | None", "int | None"]
# (ts, provider, model, project, session, input, output, cw5, cw1, cr, reasoning, cost_logged,
#  speed, sidechain, dkey, rid, limit_reset); `model` is the logged name, not the report label.


def record_row(d: dict[str, Any]) -> Row:
    """The Row of a usage record as `UsageEntry.to_record` makes it (our own parse: not re-checked)."""
    get = d.get
    p, mid = d["p"], get("mid")
    if mid is not None:
        dk = f"{p}\x1f{mid}"  # core/dedup.dedup_key
    else:
        lk = get("lk")
        dk = None if lk is None else f"line\x1f{lk}"
    return (d["t"], p, d["m"], d["j"], d["s"], d["i"], d["o"], d["c5"], d["c1"], d["cr"], get("r", 0), get("$"),
            get("sp"), 1 if get("sc") else 0, dk, get("rid"), get("ul"))


_TEMP_DDL = (
    "CREATE TEMP TABLE IF NOT EXISTS price(model TEXT PRIMARY KEY, inp REAL, out REAL, cw REAL, cr REAL,"
    " inp_hi REAL, out_hi REAL, cw_hi REAL, cr_hi REAL, c1 REAL, c1_hi REAL, fast REAL) WITHOUT ROWID",
    "CREATE TEMP TABLE IF NOT EXISTS contested(dkey TEXT PRIMARY KEY) WITHOUT ROWID",
    "CREATE TEMP TABLE IF NOT EXISTS flips(id INTEGER PRIMARY KEY, w INTEGER, dw INTEGER, w0 INTEGER)",
    "CREATE TEMP TABLE IF NOT EXISTS touched(bucket INTEGER, origin TEXT, provider TEXT, model TEXT,"
    " PRIMARY KEY(bucket, origin, provider, model)) WITHOUT ROWID",
)


def create_temp(conn: sqlite3.Connection) -> None:
    """The connection's temp tables (IF NOT EXISTS: cheap when they exist).

    Called for every use: temp tables made in a transaction that rolled back are gone.
    """
    for stmt in _TEMP_DDL:
        conn.execute(stmt)


# ---- 1. rows ---------------------------------------------------------------------------------

# Keys to_record writes only sometimes, with their defaults: read only when the batch has them.
RARE = {"r": "0", "$": "NULL", "sp": "NULL", "sc": "0", "ul": "NULL", "lk": "NULL"}
_RARE_RE = re.compile(rb'"(?:r|\$|sp|sc|ul|lk)"')
_RARE_PATTERNS = tuple((k, b'"' + k.encode() + b'"') for k in RARE)


Scan = tuple[bool, frozenset[str]]  # (plain, rare keys present): what scan_bodies finds


def scan_batch(recs: Iterable[Record]) -> Scan | None:
    """scan_bodies over a batch's usage records (valid for any subset of them); None: not UTF-8."""
    try:
        return scan_bodies([r.body for r in recs if r.kind == "usage"])
    except UnicodeDecodeError:
        return None


def scan_bodies(bodies: list[bytes]) -> Scan:
    """(plain, rare keys present) for a batch of usage bodies; UnicodeDecodeError unless all are UTF-8.

    Plain: every body starts with `{` and holds no other `{`, no `[`, no backslash and none of
    null, true, false, so `->>` cannot read it otherwise than orjson (json_valid and the type
    checks do the rest). A batch that is not plain is checked row by row in SQL. A key absent
    from the batch's bytes is absent from every body: no escapes, so keys appear verbatim.
    """
    joined = b"\n".join(bodies)
    if not joined.isascii():
        joined.decode()
    plain = (
        b"\\" not in joined
        and b"[" not in joined
        and not [b for b in bodies if b[:1] != b"{"]
        and joined.count(b"{") == len(bodies)
        and b"null" not in joined
        and b"true" not in joined
        and b"false" not in joined
    )
    if _RARE_RE.search(joined) is None:
        return plain, frozenset()
    return plain, frozenset(k for k, pat in _RARE_PATTERNS if pat in joined)


# The same, row by row, for a batch that is not plain.
_PLAIN_ROW = (
    "substr(b, 1, 1) = '{' AND instr(substr(b, 2), '{') = 0 AND instr(b, '[') = 0 AND instr(b, '\\') = 0"
    " AND instr(b, 'null') = 0 AND instr(b, 'true') = 0 AND instr(b, 'false') = 0"
)


_I62 = "BETWEEN -4611686018427387904 AND 4611686018427387904"
_INTS = ("ts", "input", "output", "cw5", "cw1", "cr", "reasoning", "sidechain")
# Rows whose types `from_record` might judge otherwise are left to it (decoded in Python). The
# type checks in cheap forms (typeof() per value cost ~0.45 us per row), valid for what `->>`
# returns (NULL, INTEGER, REAL or TEXT, never a BLOB):
# - TEXT: `v >= ''` (no affinity on either side, and every number sorts before every text);
# - INTEGER, for values that each pass a numeric BETWEEN (no text does): one typeof() of their
#   sum (a REAL among them makes the sum REAL; so bounded, integers cannot overflow it).
# A row refused here only takes the slower path; a row let through must mean what from_record says.
_OK = (
    f"typeof({' + '.join('x.' + c for c in _INTS)}) = 'integer' AND x.ts {_I62} AND x.sidechain {_I62}"
    + "".join(f" AND x.{c} BETWEEN 0 AND {MAX_TOKENS}" for c in _INTS[1:-1])
    + " AND x.provider >= '' AND x.model >= '' AND x.project >= '' AND x.session >= ''"
    " AND (x.cost_logged IS NULL OR x.cost_logged BETWEEN -1e300 AND 1e300)"
    " AND (x.speed IS NULL OR x.speed >= '') AND (x.mid IS NULL OR x.mid >= '')"
    " AND (x.rid IS NULL OR x.rid >= '') AND (x.lk IS NULL OR x.lk >= '')"
    f" AND (x.ul IS NULL OR (typeof(x.ul) = 'integer' AND x.ul {_I62}))"
)


def _tier(t: str, base: str, above: str) -> str:
    """core/pricing._tiered in SQL (same operations, same order)."""
    return (f"(CASE WHEN x.{t} <= 0 THEN 0.0 WHEN p.{above} IS NOT NULL AND x.{t} > 200000"
            f" THEN 200000 * p.{base} + (x.{t} - 200000) * p.{above} ELSE x.{t} * p.{base} END)")


# core/pricing.entry_cost in SQL: ((((in + out) + cw5) + cw1) + cr), x the fast multiplier when fast.
# Only with a price-table coster (?5) and for Claude rows; the others are priced in Python after.
_COST = f"""CASE WHEN ?5 AND x.provider = 'claude' THEN COALESCE(
    (((({_tier('input', 'inp', 'inp_hi')} + {_tier('output', 'out', 'out_hi')})
    + {_tier('cw5', 'cw', 'cw_hi')}) + {_tier('cw1', 'c1', 'c1_hi')}) + {_tier('cr', 'cr', 'cr_hi')})
    * (CASE WHEN x.speed = 'fast' THEN p.fast ELSE 1.0 END), 0.0) ELSE 0.0 END"""

_USAGE_COLS = ("origin, epoch, seq, ts, provider, model, project, session, input, output, cw5, cw1, cr, reasoning,"
               " cost_logged, cost_calc, speed, sidechain, dkey, rid, rank_total, winner, dwinner, limit_reset")
# replica.model_label, core/dedup.dedup_key and UsageEntry.total_tokens, in SQL.
_LABEL = ("CASE WHEN x.speed = 'fast' AND x.model != '' AND x.provider != 'codex' THEN x.model || '-fast'"
          " ELSE x.model END")
_DKEY = ("CASE WHEN x.mid IS NOT NULL THEN x.provider || char(31) || x.mid"
         " WHEN x.lk IS NOT NULL THEN 'line' || char(31) || x.lk END")


def rows_sql(plain: bool, rare: frozenset[str]) -> str:
    """Insert the usage rows of log range ?1-?4 that SQLite may read, reading only keys the batch has."""
    key = (plain, rare)
    sql = _ROWS_SQL.get(key)
    if sql is None:
        sql = _ROWS_SQL[key] = _rows_sql(plain, rare)
    return sql


_ROWS_SQL: dict[tuple[bool, frozenset[str]], str] = {}


def _rows_sql(plain: bool, rare: frozenset[str]) -> str:
    def get(key: str, default: str | None = None) -> str:
        v = "b ->> '$.\"$\"'" if key == "$" else f"b ->> '$.{key}'"
        return v if default is None else f"COALESCE({v}, {default})"

    def rare_get(key: str) -> str:
        if key not in rare:
            return RARE[key]
        return get(key, None if RARE[key] == "NULL" else RARE[key])

    check = "json_valid(b)" if plain else f"json_valid(b) AND {_PLAIN_ROW}"
    return f"""
WITH x AS MATERIALIZED (
    SELECT seq, {get('t')} AS ts, {get('p')} AS provider, {get('m')} AS model, {get('j')} AS project,
           {get('s')} AS session, {get('i', '0')} AS input, {get('o', '0')} AS output, {get('c5', '0')} AS cw5,
           {get('c1', '0')} AS cw1, {get('cr', '0')} AS cr, {rare_get('r')} AS reasoning,
           {rare_get('$')} AS cost_logged, {rare_get('sp')} AS speed, {rare_get('sc')} AS sidechain,
           {get('mid')} AS mid, {get('rid')} AS rid, {rare_get('ul')} AS ul, {rare_get('lk')} AS lk
    FROM (SELECT seq, CAST(body AS TEXT) AS b FROM log
          WHERE origin = ?1 AND epoch = ?2 AND seq BETWEEN ?3 AND ?4 AND kind = 'usage')
    WHERE CASE WHEN {check} THEN 1 ELSE 0 END
)
INSERT INTO usage({_USAGE_COLS})
SELECT ?1, ?2, x.seq, x.ts, x.provider, {_LABEL}, x.project, x.session, x.input, x.output, x.cw5, x.cw1, x.cr,
       x.reasoning, CAST(x.cost_logged AS REAL), {_COST}, x.speed, x.sidechain != 0, {_DKEY}, x.rid,
       x.input + x.output + x.cw5 + x.cw1 + x.cr, 1, 1, x.ul
FROM x LEFT JOIN temp.price AS p ON p.model = x.model
WHERE {_OK}
"""


# ---- 3. dedup --------------------------------------------------------------------------------

# Groups where a winner must be chosen: a key that came twice, or that was already stored.
_CONTESTED = """
INSERT OR IGNORE INTO temp.contested(dkey)
SELECT n.dkey FROM usage AS n NOT INDEXED WHERE n.id > ?1 AND n.dkey IS NOT NULL
AND EXISTS (SELECT 1 FROM usage AS o WHERE o.dkey = n.dkey AND o.id != n.id)
"""

# For rows whose in-batch groups were settled in Python: only keys that stored rows have too.
# Every group has a winner among the new rows (_batch_flags), so probing the winners finds them all.
_CONTESTED_STORED = """
INSERT OR IGNORE INTO temp.contested(dkey)
SELECT n.dkey FROM usage AS n NOT INDEXED WHERE n.id > ?1 AND n.winner = 1 AND n.dkey IS NOT NULL
AND EXISTS (SELECT 1 FROM usage AS o WHERE o.dkey = n.dkey AND o.id <= ?1)
"""

# Flags of every copy in the contested groups (core/dedup.py) where they change. Rank: not a
# sidechain, larger token total, has speed; ties go to the smaller log position. `winner`: the
# first copy per (message, requestId). `dwinner`: if the group has a non-sidechain copy, the
# non-sidechain copies that are `winner` (sidechain copies sort last, so a request's first copy
# is its best non-sidechain one whenever it has one); else the group's single best copy.
_ORDER = "rank_total DESC, speed IS NOT NULL DESC, origin, epoch, seq"
_FLIPS = f"""
INSERT INTO temp.flips(id, w, dw, w0)
SELECT id, w, dw, winner FROM (
    SELECT id, winner, dwinner, w, CASE WHEN main > 0 THEN sidechain = 0 AND w ELSE first = 1 END AS dw
    FROM (
        SELECT id, winner, dwinner, sidechain,
               row_number() OVER (PARTITION BY dkey, rid ORDER BY sidechain, {_ORDER}) = 1 AS w,
               row_number() OVER g AS first,
               sum(1 - sidechain) OVER (g ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS main
        FROM usage WHERE dkey IN (SELECT dkey FROM temp.contested)
        WINDOW g AS (PARTITION BY dkey ORDER BY {_ORDER})
    )
) WHERE w != winner OR dw != dwinner
"""

_APPLY_FLIPS = """
UPDATE usage SET winner = (SELECT f.w FROM temp.flips AS f WHERE f.id = usage.id),
                 dwinner = (SELECT f.dw FROM temp.flips AS f WHERE f.id = usage.id)
WHERE id IN (SELECT id FROM temp.flips)
"""

_BUCKET = "(u.ts / 900000) * 2 + (u.ts % 900000 != 0)"  # replica._bucket (for ts >= 0)

# Buckets where a row stored before this call gained or lost `winner`: recomputed afterwards.
_TOUCHED_FROM_FLIPS = f"""
INSERT OR IGNORE INTO temp.touched(bucket, origin, provider, model)
SELECT {_BUCKET}, u.origin, u.provider, u.model FROM temp.flips AS f JOIN usage AS u ON u.id = f.id
WHERE f.w != f.w0 AND u.id <= ?1
"""

# ---- 4. rollup -------------------------------------------------------------------------------

# The new winners (usage rows after id ?2), but for buckets that are recomputed anyway (none: ?3).
_ROLLUP_ADD_NEW = f"""
INSERT INTO rollup(bucket, origin, provider, model, n, ts_min, ts_max, input, output, cache_create,
                   cache_read, reasoning, cost_auto, cost_calc, cost_display, limit_reset)
SELECT {_BUCKET} AS bk, ?1, u.provider, u.model, COUNT(*), MIN(u.ts), MAX(u.ts), SUM(u.input), SUM(u.output),
       SUM(u.cw5 + u.cw1), SUM(u.cr), SUM(u.reasoning), SUM(COALESCE(u.cost_logged, u.cost_calc)),
       SUM(u.cost_calc), SUM(COALESCE(u.cost_logged, 0)), MIN(u.limit_reset)
FROM usage AS u
WHERE u.id > ?2 AND u.winner = 1 AND (?3 OR NOT EXISTS (
    SELECT 1 FROM temp.touched AS t
    WHERE t.bucket = {_BUCKET} AND t.origin = ?1 AND t.provider = u.provider AND t.model = u.model))
GROUP BY bk, u.provider, u.model
ON CONFLICT(bucket, origin, provider, model) DO UPDATE SET
    n = n + excluded.n, ts_min = MIN(ts_min, excluded.ts_min), ts_max = MAX(ts_max, excluded.ts_max),
    input = input + excluded.input, output = output + excluded.output,
    cache_create = cache_create + excluded.cache_create, cache_read = cache_read + excluded.cache_read,
    reasoning = reasoning + excluded.reasoning, cost_auto = cost_auto + excluded.cost_auto,
    cost_calc = cost_calc + excluded.cost_calc, cost_display = cost_display + excluded.cost_display,
    limit_reset = COALESCE(MIN(limit_reset, excluded.limit_reset), limit_reset, excluded.limit_reset)
"""

ROLLUP_FROM_USAGE = """
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


def recompute_touched(conn: sqlite3.Connection) -> None:
    """Recompute the rollup buckets named in temp.touched from the winning usage rows, then clear it."""
    conn.execute(
        "DELETE FROM rollup WHERE (bucket, origin, provider, model) IN"
        " (SELECT bucket, origin, provider, model FROM temp.touched)"
    )
    conn.execute(ROLLUP_FROM_USAGE)
    conn.execute("DELETE FROM temp.touched")


class UsageMaterializer:
    """Materializes usage records on one replica connection (keeps its per-model rates)."""

    def __init__(self, conn: sqlite3.Connection, coster: Coster) -> None:
        self.conn = conn
        self.coster = coster
        self.price = getattr(coster, "price", None)  # model -> core.pricing.ModelPrice | None
        self._rates: dict[str, tuple[object, ...] | None] = {}  # model -> temp.price row (None: unpriced)

    def materialize(self, origin: str, epoch: int, lo: int, hi: int, bodies: list[bytes],
                    scan: Scan | None = None) -> None:
        """Usage rows for the usage records stored in log `(origin, epoch)` at seq lo..hi.

        `bodies` are those records' bodies; `scan` is scan_bodies of them (or of a superset), if
        done ahead. Inside the caller's transaction; LogRuleError on a malformed record (the
        caller's rollback undoes the rest).
        """
        if not bodies:
            return
        conn = self.conn
        try:
            plain, rare = scan if scan is not None else scan_bodies(bodies)
        except UnicodeDecodeError:  # from_record refuses it too (and SQLite would store it)
            raise LogRuleError(f"malformed usage record in {origin[:8]}/{epoch}/{lo}..{hi}: not UTF-8") from None
        create_temp(conn)
        try:
            self._state_rates()
            last_id = conn.execute("SELECT COALESCE(MAX(id), 0) FROM usage").fetchone()[0]
            conn.execute(rows_sql(plain, rare), (origin, epoch, lo, hi, self.price is not None))
            # (rowcount is -1 for a statement that starts with WITH)
            if conn.execute("SELECT changes()").fetchone()[0] < len(bodies):
                self._rows_in_python(origin, epoch, lo, hi, last_id)
            self._price_new(last_id)
            self._settle(origin, last_id, _CONTESTED)
        finally:
            for t in ("contested", "flips", "touched"):
                conn.execute(f"DELETE FROM temp.{t}")

    def materialize_rows(self, origin: str, epoch: int, first_seq: int, rows: list[Row]) -> None:
        """Usage rows for usage records stored in log `(origin, epoch)` from `first_seq` on, one Row
        each (`rows[i]` is seq first_seq + i), decoded already: our own ingest's road. Inside the
        caller's transaction."""
        if not rows:
            return
        conn = self.conn
        create_temp(conn)
        try:
            last_id = conn.execute("SELECT COALESCE(MAX(id), 0) FROM usage").fetchone()[0]
            costs = self._costs(rows)
            w, dw = _batch_flags(origin, epoch, first_seq, rows)
            conn.executemany(
                f"INSERT INTO usage({_USAGE_COLS}) VALUES({','.join('?' * 24)})",
                [(origin, epoch, first_seq + i, ts, prov, _label(prov, m, sp), proj, sess, i_, o, c5, c1, cr, r,
                  cl, costs[i], sp, sc, dk, rid, i_ + o + c5 + c1 + cr, w[i], dw[i], ul)
                 for i, (ts, prov, m, proj, sess, i_, o, c5, c1, cr, r, cl, sp, sc, dk, rid, ul) in enumerate(rows)])
            self._settle(origin, last_id, _CONTESTED_STORED)
        finally:
            for t in ("contested", "flips", "touched"):
                conn.execute(f"DELETE FROM temp.{t}")

    def _settle(self, origin: str, last_id: int, contested: str) -> None:
        """Steps 3 and 4 for the rows after `last_id`: winners of the groups `contested` names, rollup."""
        conn = self.conn
        conn.execute(contested, (last_id,))
        touched = False
        if conn.execute("SELECT 1 FROM temp.contested LIMIT 1").fetchone() is not None:
            conn.execute(_FLIPS)
            conn.execute(_APPLY_FLIPS)
            conn.execute(_TOUCHED_FROM_FLIPS, (last_id,))
            touched = conn.execute("SELECT 1 FROM temp.touched LIMIT 1").fetchone() is not None
        conn.execute(_ROLLUP_ADD_NEW, (origin, last_id, not touched))
        if touched:
            recompute_touched(conn)

    def _costs(self, rows: list[Row]) -> list[float]:
        """cost_calc of each row: the coster's price, computed as the coster computes it."""
        coster, price = self.coster, self.price
        if price is not None:
            from meshd.core.pricing import entry_cost
        out: list[float] = []
        append = out.append
        seen: dict[tuple[object, ...], float] = {}  # copies of one message mostly carry the same counts
        for ts, prov, m, _j, _s, i, o, c5, c1, cr, r, _cl, sp, *_rest in rows:
            key = (prov, m, i, o, c5, c1, cr, r, sp)
            c = seen.get(key)
            if c is None:
                if price is not None and prov == "claude":  # make_coster's cost(), without an entry
                    p = price(m)
                    c = 0.0 if p is None else entry_cost(p, i, o, c5, c1, cr, sp)
                else:
                    c = coster(UsageEntry(ts, prov, m, "", "", i, o, c5, c1, cr, r, speed=sp))
                seen[key] = c
            append(c)
        return out

    def _state_rates(self) -> None:
        """temp.price as this coster knows it (its changes roll back with a failed transaction)."""
        self.conn.execute("DELETE FROM temp.price")
        rows = [r for r in self._rates.values() if r is not None]
        if rows:
            self.conn.executemany("INSERT INTO temp.price VALUES(?,?,?,?,?,?,?,?,?,?,?,?)", rows)

    def _price_new(self, last_id: int) -> None:
        """Price the new rows SQL could not: models seen for the first time, other providers, plain costers."""
        conn = self.conn
        if self.price is not None:
            raw = "CASE WHEN speed = 'fast' AND model LIKE '%-fast' THEN substr(model, 1, length(model) - 5) ELSE model END"
            fresh = [m for (m,) in conn.execute(
                f"SELECT DISTINCT {raw} FROM usage WHERE id > ? AND provider = 'claude'", (last_id,))
                if m not in self._rates]
            if not fresh:
                where = "provider != 'claude'"
            else:
                for m in fresh:
                    self._rates[m] = _rates(m, self.price(m))
                self._state_rates()
                where = f"(provider != 'claude' OR {raw} IN ({','.join('?' * len(fresh))}))"
        else:
            fresh, where = [], "1"
        rows = conn.execute(
            "SELECT id, provider, model, input, output, cw5, cw1, cr, reasoning, speed FROM usage"
            f" WHERE id > ? AND {where}", (last_id, *fresh)).fetchall()
        if rows:
            coster = self.coster
            conn.executemany(
                "UPDATE usage SET cost_calc = ? WHERE id = ?",
                [(coster(UsageEntry(0, prov, _raw_model(model, sp, prov), "", "", i, o, c5, c1, cr, r, speed=sp)), rid)
                 for rid, prov, model, i, o, c5, c1, cr, r, sp in rows],
            )

    def _rows_in_python(self, origin: str, epoch: int, lo: int, hi: int, last_id: int) -> None:
        """Decode the records SQLite did not take with `UsageEntry.from_record` (refusing bad ones)."""
        rows = []
        for seq, body in self.conn.execute(
            "SELECT seq, body FROM log WHERE origin = ? AND epoch = ? AND seq BETWEEN ? AND ? AND kind = 'usage'"
            " AND seq NOT IN (SELECT seq FROM usage WHERE id > ?) ORDER BY seq",
            (origin, epoch, lo, hi, last_id),
        ):
            try:
                e = UsageEntry.from_record(orjson.loads(body))
            except (orjson.JSONDecodeError, ValueError, TypeError, AttributeError) as err:
                raise LogRuleError(f"malformed usage record {origin[:8]}/{epoch}/{seq}: {err}") from None
            rows.append((origin, epoch, seq, e.ts, e.provider, model_label(e), e.project, e.session_id, e.input_tokens,
                         e.output_tokens, e.cache_write_5m_tokens, e.cache_write_1h_tokens, e.cache_read_tokens,
                         e.reasoning_tokens, e.cost_usd, self.coster(e), e.speed, int(e.is_sidechain), dedup_key(e),
                         e.request_id, e.total_tokens, 1, 1, e.usage_limit_reset))
        self.conn.executemany(f"INSERT INTO usage({_USAGE_COLS}) VALUES({','.join('?' * 24)})", rows)


def _raw_model(label: str, speed: str | None, provider: str) -> str:
    """The logged model name of a stored row (its `model` column is the report label)."""
    if speed == "fast" and provider != "codex" and label.endswith("-fast"):
        return label[: -len("-fast")]
    return label


def _rates(model: str, p: object) -> tuple[object, ...] | None:
    """A temp.price row for a core.pricing.ModelPrice (None when the model is not priced)."""
    if p is None:
        return None
    from meshd.core.pricing import ONE_HOUR_CACHE_FACTOR, TIER

    assert TIER == 200_000  # _tier's literal
    hi = p.input_above_200k_tokens  # type: ignore[attr-defined]
    return (model, p.input, p.output, p.cache_write, p.cache_read, hi,  # type: ignore[attr-defined]
            p.output_above_200k_tokens, p.cache_write_above_200k_tokens,  # type: ignore[attr-defined]
            p.cache_read_above_200k_tokens, p.input * ONE_HOUR_CACHE_FACTOR,  # type: ignore[attr-defined]
            None if hi is None else hi * ONE_HOUR_CACHE_FACTOR, p.fast_multiplier)  # type: ignore[attr-defined]


def _label(provider: str, model: str, speed: str | None) -> str:
    """replica.model_label of a row's fields."""
    return model + "-fast" if speed == "fast" and model and provider != "codex" else model


def _batch_flags(origin: str, epoch: int, first_seq: int, rows: list[Row]) -> tuple[list[int], list[int]]:
    """(winner, dwinner) of each row by core/dedup's rule over the copies in `rows` alone.

    core/dedup's `exact_winners` and `winners`, specialised to one log range: there the position
    order is the index order, so a copy's standing is the tuple (not a sidechain, token total, has
    speed, -index), largest best (tests/test_materialize.py checks it against core/dedup).
    """
    n = len(rows)
    w, dw = [1] * n, [1] * n
    groups: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        k = row[14]
        if k is not None:
            g = groups.get(k)
            if g is None:
                groups[k] = [i]
            else:
                g.append(i)
    for idx in groups.values():
        if len(idx) < 2:
            continue
        best: dict[object, tuple[tuple[int, int, int, int], int]] = {}  # request id -> (standing, index)
        for i in idx:
            _t, _p, _m, _j, _s, i_, o, c5, c1, cr, _r, _cl, sp, sc, _k, rid, _ul = rows[i]
            st = (0 if sc else 1, i_ + o + c5 + c1 + cr, 0 if sp is None else 1, -i)
            b = best.get(rid)
            if b is None or st > b[0]:
                best[rid] = (st, i)
            w[i] = dw[i] = 0
        mains = [b for b in best.values() if b[0][0] == 1]
        for _st, i in best.values():
            w[i] = 1
        if mains:  # a request's best copy is a main one whenever it has one
            for _st, i in mains:
                dw[i] = 1
        else:  # all sidechain copies: the single best
            dw[max(best.values())[1]] = 1
    return w, dw
