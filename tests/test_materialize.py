"""The bulk write path (store/materialize.py) against its Python reference, on real SQLite.

- Cost in SQL equals core/pricing.entry_cost bit for bit (every Claude model, tiers, 1h, fast).
- Any body means what `UsageEntry.from_record` says it means: hostile bodies that SQLite's JSON
  functions would read otherwise (true for a count, null, nested objects, escapes, bad UTF-8,
  whitespace, huge numbers) are refused or decoded exactly as from_record decodes them.
- Winner flags of batches of any size and any split equal core/dedup's rule on the whole group.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meshd.app import make_coster
from meshd.core.dedup import Copy, dedup_key, exact_winners, rank, winners
from meshd.core.entry import UsageEntry
from meshd.core.oplog import Batch, Record
from meshd.errors import LogRuleError
from meshd.pricing_store import load_price_table
from meshd.store.db import init_schema
from meshd.store.materialize import scan_bodies
from meshd.store.replica import Replica, model_label, transaction

A = "a" * 32
B = "b" * 32
ME = "f" * 32


def fresh(coster=None) -> Replica:  # type: ignore[no-untyped-def]
    conn = sqlite3.connect(":memory:", isolation_level=None)
    init_schema(conn)
    return Replica(conn, ME, 1, coster or (lambda e: e.total_tokens * 1e-6))


def apply(r: Replica, origin: str, bodies: list[bytes], start: int = 1, kind: str = "usage") -> None:
    recs = tuple(Record(s, kind, b) for s, b in enumerate(bodies, start=start))
    with transaction(r.conn):
        r.apply_batch(Batch(origin, 1, start - 1, start - 1 + len(recs), recs))


def rows(r: Replica) -> list[tuple[object, ...]]:
    return r.conn.execute(
        "SELECT origin, seq, ts, provider, model, project, session, input, output, cw5, cw1, cr, reasoning,"
        " cost_logged, cost_calc, speed, sidechain, dkey, rid, rank_total, winner, dwinner, limit_reset"
        " FROM usage ORDER BY origin, seq").fetchall()


def reference_row(origin: str, seq: int, e: UsageEntry, cost: float) -> tuple[object, ...]:
    """What the usage row of an entry holds (a lone copy: it wins both rules)."""
    return (origin, seq, e.ts, e.provider, model_label(e), e.project, e.session_id, e.input_tokens,
            e.output_tokens, e.cache_write_5m_tokens, e.cache_write_1h_tokens, e.cache_read_tokens,
            e.reasoning_tokens, e.cost_usd, cost, e.speed, int(e.is_sidechain), dedup_key(e), e.request_id,
            e.total_tokens, 1, 1, e.usage_limit_reset)


# ---- cost ------------------------------------------------------------------------------------


def test_sql_cost_equals_entry_cost_for_every_claude_model(tmp_path: Path) -> None:
    coster = make_coster(tmp_path)
    table = load_price_table(tmp_path)
    models = [name for name, _p in table.models() if name.startswith("claude-")]
    assert len(models) > 20
    counts = [(0, 0, 0, 0, 0), (1, 2, 3, 4, 5), (150_000, 9_999, 250_000, 0, 1_000_000),
              (200_000, 200_001, 199_999, 350_000, 7), (3_000_000, 1, 0, 200_001, 200_000)]
    entries = []
    for i, m in enumerate(models + ["claude-unknown-z9", "<synthetic>", "", "gpt-5"]):
        for j, (a, b, c, d, f) in enumerate(counts):
            for speed in (None, "fast", "standard"):
                entries.append(UsageEntry(1_700_000_000_000 + i * 10_000 + j, "claude", m, "s", "p", a, b, c, d, f,
                                          speed=speed, message_id=f"m{len(entries)}", request_id="r"))
    r = fresh(coster)
    apply(r, A, [orjson.dumps(e.to_record()) for e in entries])
    got = [c for (c,) in r.conn.execute("SELECT cost_calc FROM usage ORDER BY seq")]
    want = [coster(e) for e in entries]
    assert got == want  # bit for bit, not approximately
    assert any(w > 0 for w in want) and any(w == 0 for w in want)


def test_codex_and_plain_costers_price_in_python(tmp_path: Path) -> None:
    coster = make_coster(tmp_path)
    es = [UsageEntry(1_700_000_000_000 + i, "codex", "gpt-5", "s", "p", 1000 * i, 10, 0, 0, 5,
                     reasoning_tokens=3, message_id=f"c{i}") for i in range(3)]
    for c in (coster, lambda e: e.input_tokens * 0.5 + e.reasoning_tokens):
        r = fresh(c)
        apply(r, A, [orjson.dumps(e.to_record()) for e in es])
        assert [x for (x,) in r.conn.execute("SELECT cost_calc FROM usage ORDER BY seq")] == [c(e) for e in es]


# ---- what a body means -----------------------------------------------------------------------

GOOD = {"t": 1_700_000_000_000, "p": "claude", "m": "claude-sonnet-4-5", "s": "sess", "j": "proj",
        "i": 10, "o": 20, "c5": 1, "c1": 2, "cr": 3, "mid": "m1", "rid": "r1"}


def body(**kw: object) -> bytes:
    d = dict(GOOD)
    for k, v in kw.items():
        if v is _DROP:
            d.pop(k, None)
        else:
            d[k] = v
    return orjson.dumps(d)


_DROP = object()

ODD_BODIES = [
    # meaningful to from_record, easy to misread in SQL
    body(sc=True), body(sc=False), body(sc="yes"), body(sc=""), body(sc=[]), body(sc={}), body(sc=0.0), body(sc=2),
    body(sp=None), body(mid=None), body(rid=None), body(**{"$": None}), body(ul=None), body(lk=None),
    body(**{"$": 1}), body(**{"$": 0.25}), body(**{"$": -1e-9}), body(r=7), body(ul=1_700_000_000),
    body(i=_DROP, o=_DROP, c5=_DROP, c1=_DROP, cr=_DROP), body(mid=_DROP, lk="line-1"),
    body(j="C:\\Users\\me\\proj", s="tab\there"), body(m="mod\u00e9le", s="\u65e5\u672c"),
    body(m="emoji \U0001F600"), body(j="has [brackets] and {braces}"), body(j="null true false"),
    body(extra={"nested": [1, 2]}), body(extra=[1, {"a": None}]),
    b' {"t":1700000000000,"p":"claude","m":"x","s":"s","j":"j","i":1,"o":2,"mid":"q"} ',
    b'{"t" : 1700000000000, "p" : "claude", "m" : "x", "s" : "s", "j" : "j", "i" : 1, "mid" : "w"}',
    b'{"t":1700000000000,"p":"\\u0063laude","m":"\\u00e9","s":"s","j":"j\\n","i":1,"mid":"e"}',
    body(t=2 ** 62), body(t=-5), body(i=2 ** 53), body(ul=2 ** 62),
    # the SQL path's cheap type checks (materialize._OK): a sum of integers at its largest
    body(t=2 ** 62, i=2 ** 53, o=2 ** 53, c5=2 ** 53, c1=2 ** 53, cr=2 ** 53, r=2 ** 53, sc=2 ** 62),
    body(t=-(2 ** 62), sc=-(2 ** 62)), body(sc="1"), body(sc=1.0), body(sc=2 ** 63 - 1), body(sc=-1),
    body(j="", s="", m=""), body(sp="", mid="", rid="", lk=""),
]

BAD_BODIES = [
    b"", b"{", b"[]", b"1", b'"x"', b"null", b"{}", b"\xff\xfe", b'{"t":1,"p":"\xff","m":"m","s":"s","j":"j"}',
    body(t="1700000000000"), body(t=1.5), body(t=True), body(t=None), body(t=_DROP),
    body(p=1), body(m=None), body(m=["a"]), body(m={"x": 1}), body(s=True), body(j=_DROP),
    body(i=True), body(i=None), body(i=-1), body(i=2 ** 53 + 1), body(i=1.0), body(i="1"), body(o=[1]),
    body(cr={"a": 1}), body(r=False), body(c1=None),
    body(c5=1.0), body(c1="1"), body(cr=0.5), body(r=2.0), body(r="2"), body(o="x"), body(t=1.7e12), body(t="x"),
    body(s=1), body(j=2.5), body(m=1), body(p=1.5), body(sp=1.5), body(lk=3), body(mid=1.0), body(rid=2),
    body(**{"$": "x"}), body(**{"$": ""}), body(ul=""), body(ul=2.0),
    body(**{"$": "1"}), body(**{"$": True}), body(**{"$": [1]}),
    body(sp=1), body(mid=5), body(rid=False), body(lk=["x"]), body(ul=1.5), body(ul=True), body(ul="1"),
    body(t=2 ** 63 + 5).replace(b"9223372036854775813", b"18446744073709551621"),
    body(i=7).replace(b'"i":7', b'"i":1180591620717411303424'), b'{"t":1e400,"p":"claude","m":"m","s":"s","j":"j"}',
    b'{"t":1700000000000,"p":"claude","m":"\\ud800","s":"s","j":"j"}',
]


def from_record_or_none(b: bytes) -> UsageEntry | None:
    try:
        return UsageEntry.from_record(orjson.loads(b))
    except (orjson.JSONDecodeError, ValueError, TypeError, AttributeError):
        return None


@pytest.mark.parametrize("b", ODD_BODIES, ids=range(len(ODD_BODIES)))
def test_odd_body_means_what_from_record_says(b: bytes) -> None:
    e = from_record_or_none(b)
    assert e is not None, b
    coster = lambda e: e.total_tokens * 1e-6  # noqa: E731
    r = fresh(coster)
    apply(r, A, [b])
    assert rows(r) == [reference_row(A, 1, e, coster(e))]


@pytest.mark.parametrize("b", BAD_BODIES, ids=range(len(BAD_BODIES)))
def test_bad_body_is_refused_like_from_record_does(b: bytes) -> None:
    assert from_record_or_none(b) is None, b
    r = fresh()
    with pytest.raises(LogRuleError):
        apply(r, A, [body(mid="ok1"), b, body(mid="ok2")])
    assert r.vector() == {} and rows(r) == []


def test_a_batch_mixing_plain_and_odd_bodies_keeps_every_row() -> None:
    bodies = [body(mid=f"p{i}", t=1_700_000_000_000 + i) for i in range(50)] + ODD_BODIES
    bodies = [orjson.dumps({**orjson.loads(b), "mid": f"x{i}"}) if b.startswith(b"{") and b"mid" in b else b
              for i, b in enumerate(bodies)]
    r = fresh()
    apply(r, A, bodies)
    assert len(rows(r)) == len(bodies)
    want = [reference_row(A, s, e, e.total_tokens * 1e-6)
            for s, e in enumerate((from_record_or_none(b) for b in bodies), start=1)]
    got = rows(r)
    # Rows sharing a dedup key (some odd bodies share "m1") are compared without their flags.
    assert [g[:20] for g in got] == [w[:20] for w in want]


def test_scan_bodies() -> None:
    assert scan_bodies([body(), body(i=2)]) == (True, frozenset())
    assert scan_bodies([body(sc=1, sp="fast"), body(r=3)]) == (True, frozenset({"sc", "sp", "r"}))
    for odd in (body(sc=True), body(j="a[b"), body(extra={"a": 1}), b' {"t":1}', body(j="x\\y")):
        assert scan_bodies([body(), odd])[0] is False
    with pytest.raises(UnicodeDecodeError):
        scan_bodies([body(), b"\xff"])


# ---- dedup in bulk ---------------------------------------------------------------------------

copies = st.lists(
    st.tuples(
        st.sampled_from([A, B]),
        st.integers(0, 3),  # which message
        st.booleans(),  # sidechain
        st.integers(0, 3),  # extra output tokens
        st.booleans(),  # has speed
        st.sampled_from(["r1", "r2", None]),  # request id
        st.booleans(),  # a message id at all
    ),
    min_size=1,
    max_size=30,
)


@settings(max_examples=80, deadline=None)
@given(copies=copies, cuts=st.lists(st.integers(1, 30), max_size=6), reverse=st.booleans())
def test_bulk_flags_equal_the_dedup_rule_for_any_batching(copies, cuts, reverse) -> None:
    logs: dict[str, list[UsageEntry]] = {A: [], B: []}
    for dev, msg, side, extra, speed, rid, has_mid in copies:
        n = len(logs[dev])
        logs[dev].append(UsageEntry(1_700_000_000_000 + n * 60_000, "claude", "claude-sonnet-4-5", "s", "p", 10,
                                    5 + extra, speed="standard" if speed else None, is_sidechain=side,
                                    message_id=f"m{msg}" if has_mid else None, request_id=rid,
                                    line_key=None if has_mid else f"lk{msg}"))
    r = fresh()
    order = [A, B] if not reverse else [B, A]
    for dev in order:
        bodies = [orjson.dumps(e.to_record()) for e in logs[dev]]
        start = 0
        for c in sorted(set(cuts)) + [len(bodies)]:
            if c > start and start < len(bodies):
                apply(r, dev, bodies[start:c], start=start + 1)
                start = c
    # Reference: core/dedup over each whole group.
    groups: dict[str, list[tuple[Copy, tuple[str, int]]]] = {}
    want: dict[tuple[str, int], tuple[int, int]] = {}
    for dev, es in logs.items():
        for seq, e in enumerate(es, start=1):
            k = dedup_key(e)
            if k is None:
                want[(dev, seq)] = (1, 1)
            else:
                groups.setdefault(k, []).append((Copy(e.is_sidechain, e.request_id, rank(e), (dev, 1, seq)), (dev, seq)))
    for members in groups.values():
        cs = [c for c, _ in members]
        w, d = exact_winners(cs), winners(cs)
        for j, (_c, pos) in enumerate(members):
            want[pos] = (int(j in w), int(j in d))
    got = {(o, s): (w, d) for o, s, w, d in r.conn.execute("SELECT origin, seq, winner, dwinner FROM usage")}
    assert got == want
    # The rollup holds exactly the winners.
    n, toks = r.conn.execute("SELECT COUNT(*), COALESCE(SUM(input + output + cw5 + cw1 + cr), 0) FROM usage"
                             " WHERE winner = 1").fetchone()
    assert r.conn.execute("SELECT COALESCE(SUM(n), 0), COALESCE(SUM(input + output + cache_create + cache_read), 0)"
                          " FROM rollup").fetchone() == (n, toks)


# ---- rebuild after a schema change -----------------------------------------------------------


def test_schema_upgrade_rebuilds_the_same_views(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An older replica's derived tables are dropped and rebuilt from the log, in bulk, identically."""
    from meshd.app import open_replica
    from meshd.store.forget import forget_body
    from meshd.store.schema import SCHEMA_VERSION

    monkeypatch.delenv("CLAUDE_CONFIG_DIR", raising=False)
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "no-claude"))
    home = tmp_path / "home"
    r = open_replica(home=home)
    es = [UsageEntry(1_700_000_000_000 + i * 40_000, "claude", ["claude-sonnet-4-5", "claude-opus-4-1"][i % 2], "s",
                     "p", 100 + i, 7, 3, 0, 11, speed="fast" if i % 5 == 0 else None, is_sidechain=i % 7 == 0,
                     message_id=f"m{i % 40}", request_id=f"r{i % 40 % 3}") for i in range(120)]
    with transaction(r.conn):
        r.append_usage(es[:60])
    apply(r, A, [orjson.dumps(e.to_record()) for e in es[60:]])
    apply(r, B, [orjson.dumps(e.to_record()) for e in es[30:90]])
    apply(r, "c" * 32, [forget_body(B, False, 1)], kind="forget")

    def views(rep: Replica) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
        # (a forgotten device's rows were hidden before, and are not materialized again: same counts)
        u = rep.conn.execute("SELECT origin, seq, model, cost_calc, dkey, winner, dwinner FROM usage"
                             " WHERE origin != ? ORDER BY origin, seq", (B,)).fetchall()
        ro = rep.conn.execute("SELECT bucket, origin, provider, model, n, input, output, cache_create, cache_read,"
                              " round(cost_calc, 9) FROM rollup ORDER BY 1, 2, 3, 4").fetchall()
        return u, ro

    before = views(r)
    assert any(w == 0 for *_x, w, _d in before[0]) and before[1]
    r.conn.execute("UPDATE meta SET value = ? WHERE key = 'schema'", (str(SCHEMA_VERSION - 1),))
    r.conn.close()
    r2 = open_replica(home=home)
    assert views(r2) == before


# ---- our own ingest's road: decoded rows ---------------------------------------------------

own = st.lists(
    st.tuples(
        st.integers(0, 4),  # which message
        st.booleans(),  # sidechain
        st.integers(0, 3),  # extra output tokens
        st.sampled_from([None, "standard", "fast"]),
        st.sampled_from(["r1", "r2", None]),  # request id
        st.booleans(),  # a message id at all
        st.sampled_from(["claude", "codex"]),
        st.sampled_from([None, 0.5, 3]),  # logged cost
        st.booleans(),  # from a peer (the SQL road) rather than our own ingest
        st.sampled_from(["claude-sonnet-4-5", "claude-opus-4-6"]),  # 200k tiers; a fast multiplier
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=60, deadline=None)
@given(copies=own, cuts=st.lists(st.integers(1, 40), max_size=6))
def test_rows_road_equals_the_sql_road(tmp_path_factory: pytest.TempPathFactory, copies, cuts) -> None:
    """Rows appended decoded (append_usage_rows, in any chunks, mixed with peers' batches) equal,
    column for column and bucket for bucket, what the SQL road makes of the same log."""
    coster = make_coster(tmp_path_factory.mktemp("price"))
    r = fresh(coster)
    mine: list[UsageEntry] = []
    theirs: list[UsageEntry] = []
    for msg, side, extra, speed, rid, has_mid, prov, cost, peer, claude in copies:
        es = theirs if peer else mine
        model = claude if prov == "claude" else "gpt-5"
        es.append(UsageEntry(1_700_000_000_000 + len(es) * 450_000, prov, model, "s", "p", 10, 5 + extra,
                             3, 1, 200_100 if extra == 3 else 7, cost_usd=cost, speed=speed, is_sidechain=side,
                             message_id=f"m{msg}" if has_mid else None, request_id=rid,
                             line_key=None if has_mid else f"lk{msg}"))
    start = 0
    for c in sorted(set(cuts)) + [len(mine)]:
        if c > start and start < len(mine):
            with transaction(r.conn):
                r.append_usage(mine[start:c])
            start = c
    if theirs:
        apply(r, A, [orjson.dumps(e.to_record()) for e in theirs])

    def views() -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
        return rows(r), r.conn.execute("SELECT * FROM rollup ORDER BY 1, 2, 3, 4").fetchall()

    got = views()
    assert len(got[0]) == len(copies) and got[1]
    with transaction(r.conn):
        r.conn.execute("DELETE FROM usage")
        r.conn.execute("DELETE FROM rollup")
        r.rebuild()  # every record again, through the SQL road
    assert views() == got


@settings(max_examples=150, deadline=None)
@given(copies=st.lists(st.tuples(st.integers(0, 2), st.booleans(), st.integers(0, 2), st.booleans(),
                                 st.sampled_from(["r1", "r2", None])), min_size=1, max_size=12))
def test_batch_flags_equal_core_dedup(copies) -> None:
    """The rows road's in-batch winners are core/dedup's, group by group."""
    from meshd.store.materialize import _batch_flags, record_row

    es = [UsageEntry(1_700_000_000_000 + i, "claude", "m", "s", "p", 10, 5 + extra, speed="fast" if speed else None,
                     is_sidechain=side, message_id=f"m{msg}", request_id=rid)
          for i, (msg, side, extra, speed, rid) in enumerate(copies)]
    w, dw = _batch_flags(A, 7, 40, [record_row(e.to_record()) for e in es])
    groups: dict[str, list[int]] = {}
    for i, e in enumerate(es):
        groups.setdefault(dedup_key(e) or "", []).append(i)
    for idx in groups.values():
        cs = [Copy(es[i].is_sidechain, es[i].request_id, rank(es[i]), (A, 7, 40 + i)) for i in idx]
        ew, ww = exact_winners(cs), winners(cs)
        assert [w[i] for i in idx] == [int(j in ew) for j in range(len(idx))]
        assert [dw[i] for i in idx] == [int(j in ww) for j in range(len(idx))]
