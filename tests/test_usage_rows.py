"""store/usage.py's merged rollup rows (blocks) come out in the order `ORDER BY bucket` gave."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from meshd.store import usage
from meshd.store.db import connect, init_schema

ORDERED = (
    "SELECT MIN(ts_min), origin, provider, group_concat(model, char(31)), SUM(input), SUM(output),"
    " SUM(cache_create), SUM(cache_read), SUM(cost_auto), SUM(reasoning), SUM(n), MAX(ts_max), MIN(limit_reset)"
    " FROM rollup GROUP BY bucket, origin, provider ORDER BY bucket"
)

ROW = st.tuples(st.integers(0, 40), st.sampled_from(["a" * 32, "b" * 32, "0" * 32, "é" + "c" * 31]),
                st.sampled_from(["claude", "codex"]), st.sampled_from(["m1", "m2", "<synthetic>", ""]),
                st.integers(1, 5), st.integers(0, 10**6), st.one_of(st.none(), st.integers(0, 2**40)))


@settings(max_examples=60, deadline=None)
@given(st.lists(ROW, max_size=60))
def test_merged_rows_keep_the_ordered_querys_order(tmp_path_factory, rows) -> None:  # type: ignore[no-untyped-def]
    conn = connect(Path(tmp_path_factory.mktemp("db")) / "meshd.db")
    init_schema(conn)
    for b, origin, prov, model, n, tok, reset in rows:
        ts = (b // 2) * usage.BUCKET_MS + (b % 2) * 1000
        conn.execute("INSERT OR IGNORE INTO rollup(bucket, origin, provider, model, n, ts_min, ts_max, input, output,"
                     " cache_create, cache_read, reasoning, cost_auto, cost_calc, cost_display, limit_reset)"
                     " VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                     (b, origin, prov, model, n, ts, ts + n, tok, tok, tok, tok, 0, tok / 7, 0.0, 0.0, reset))
    names = usage.device_names(conn)
    want = [(r[0], names.get(r[1], r[1][:8]), *r[2:]) for r in conn.execute(ORDERED)]
    got = [(x.ts, x.device, x.provider, x.model, x.input_tokens, x.output_tokens, x.cache_creation_tokens,
            x.cache_read_tokens, x.cost, x.reasoning_tokens, x.count, x.ts_last, x.usage_limit_reset)
           for x in usage.usage_rows(conn, "auto", usage.RowFilter(), merge_models=True)]
    assert got == want
    conn.close()
