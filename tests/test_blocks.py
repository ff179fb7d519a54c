"""Session blocks: ccusage 20.0.24 goldens, the 5-hour edges, active/limit logic, devices and overlap."""

from __future__ import annotations

import json
import math
import os
import subprocess
import tempfile
import time
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meshd.core import blocks as B
from meshd.core.blocks import blocks_report
from meshd.core.entry import UsageRow
from meshd.core.periods import iso_ms, parse_date_arg, resolve_tz
from meshd.errors import ConfigError
from tests.test_reports import (ccusage_bin, jline, load_golden, parse_ts, rows_from_files, same_json,
                                strip_ours)

H = 3_600_000
D5 = 5 * H
S, O = "claude-sonnet-4-20250514", "claude-opus-4-20250514"


def _blocks_fixture() -> dict[str, list[str]]:
    """Every edge of the block rules, all in 2024 (so ccusage's real clock sees no active block)."""
    return {
        "projects/-home-u-alpha/s-1.jsonl": [
            jline("2024-06-01T10:15:00.000Z", "s-1", "a01", S, 100, 50, 25, 10, 0.12),  # block 10:00
            jline("2024-06-01T15:00:00.000Z", "s-1", "a02", O, 200, 75, 50, 20, 0.34),  # start + 5 h: same block
            jline("2024-06-01T15:00:00.001Z", "s-1", "a03", S, 1, 1, 1, 1, 0.01),  # start + 5 h + 1 ms: new
            jline("2024-06-01T20:00:00.001Z", "s-1", "a04", S, 2, 2, 2, 2, 0.02),  # 5 h silence exactly: no gap
            jline("2024-06-01T20:30:00.000Z", "s-1", "a05", "<synthetic>", 3, 4, 0, 0, 0.0),
            jline("2024-06-02T01:30:00.001Z", "s-1", "a06", S, 5, 5, 5, 5, 0.3, speed="fast"),  # gap after start
            jline("2024-06-02T03:00:00.000Z", "s-1", "a07", O, 6, 6, 6, 6, 0.5),
            jline("2024-06-02T08:30:00.000Z", "s-1", "a08", S, 7, 7, 7, 7, 0.25),  # gap ties block start 08:00
            jline("2024-06-02T08:30:00.000Z", "s-1", "a09", O, 8, 8, 8, 8, 0.25),
            jline("2024-06-02T09:10:00.000Z", "s-1", "a10", S, 9, 9, 9, 9, 0.125),
            jline("2024-06-02T10:00:00.000Z", "s-1", "a11", S, 1, 0, 0, 0, 0.0, limit_reset=1717333200),
            jline("2024-06-02T12:59:59.999Z", "s-1", "a12", S, 10, 10, 10, 10, 0.5),
        ],
        "projects/-home-u-beta/s-2.jsonl": [
            jline("2024-06-05T12:34:56.789Z", "s-2", "b01", O, 11, 11, 11, 11, 1.5),  # one-entry block
            jline("2024-06-07T22:10:00.000Z", "s-2", "b02", S, 12, 12, 12, 12, 0.75),  # crosses local midnights
            jline("2024-06-08T01:10:00.000Z", "s-2", "b03", S, 13, 13, 13, 13, 0.75),
        ],
    }


BLOCK_CASES: dict[str, tuple[Any, str, list[list[str]]]] = {
    "ccusage_blocks_edges.json": (_blocks_fixture, "UTC", [
        ["blocks", "--mode", "display"],
        ["blocks", "--mode", "display", "--order", "desc"],
        ["blocks", "--mode", "display", "--session-length", "2.5"],
        ["blocks", "--mode", "display", "--session-length", "0.99999999"],
        ["blocks", "--mode", "display", "--since", "20240602", "--until", "2024-06-07", "--timezone", "Asia/Tokyo"],
        ["blocks", "--mode", "display", "--since", "20240602", "--until", "2024-06-07"],
        ["blocks", "--mode", "display", "--token-limit", "1000"],
        ["blocks", "--mode", "display", "--token-limit", "max"],
        ["blocks", "--mode", "display", "--recent"],
        ["blocks", "--mode", "display", "--active"],
    ]),
}

PAST_NOW = parse_ts("2026-01-01T00:00:00.000Z")


def _opt(args: list[str], name: str) -> str | None:
    return args[args.index(name) + 1] if name in args else None


def ours_for(args: list[str], rows: list[UsageRow], env_tz: str, now: int = PAST_NOW) -> dict[str, Any]:
    """Our blocks report for a ccusage argument list."""
    limit: int | str | None = _opt(args, "--token-limit")
    if limit is not None and limit != "max":
        limit = int(limit)
    since, until = _opt(args, "--since"), _opt(args, "--until")
    return B.blocks_report(
        rows, now_ms=now, session_hours=float(_opt(args, "--session-length") or 5),
        tz=resolve_tz(_opt(args, "--timezone") or env_tz),
        since=parse_date_arg(since) if since else None, until=parse_date_arg(until) if until else None,
        order=_opt(args, "--order") or "asc", active_only="--active" in args, recent="--recent" in args,
        token_limit=limit,
    )


@pytest.mark.parametrize("name", sorted(BLOCK_CASES))
def test_blocks_equal_ccusage_golden(name: str) -> None:
    g = load_golden(name)
    rows = rows_from_files(g["files"])
    for run in g["runs"]:
        mine = ours_for(run["args"], rows, g["tz"])
        assert same_json(strip_ours(mine), run["output"]), (run["args"], strip_ours(mine), run["output"])


def test_golden_covers_the_edges() -> None:
    """The golden really shows the rules the fixture is about."""
    out = load_golden("ccusage_blocks_edges.json")["runs"][0]["output"]["blocks"]
    ids = [b["id"] for b in out]
    assert ids == [
        "2024-06-01T10:00:00.000Z", "2024-06-01T15:00:00.000Z", "2024-06-01T20:00:00.000Z",
        "2024-06-02T01:00:00.000Z", "gap-2024-06-02T01:30:00.000Z", "gap-2024-06-02T08:00:00.000Z",
        "2024-06-02T08:00:00.000Z", "gap-2024-06-02T17:59:59.999Z", "2024-06-05T12:00:00.000Z",
        "gap-2024-06-05T17:34:56.789Z", "2024-06-07T22:00:00.000Z",
    ]
    assert out[0]["entries"] == 2 and out[0]["actualEndTime"] == "2024-06-01T15:00:00.000Z"
    assert out[6]["usageLimitResetTime"] == "2024-06-02T13:00:00.000Z"


# ---------------------------------------------------------------- live check of the active block

@pytest.mark.ccusage
def test_active_block_equals_ccusage_live() -> None:
    """Entries minutes ago: the active block, burn rate, projection and -t statuses against the real clock."""
    exe = ccusage_bin()
    if exe is None:
        pytest.skip("ccusage not installed (set CCUSAGE_BIN or `npm install ccusage@20.0.24`)")
    now = int(time.time() * 1000)
    now -= now % 60_000 - 20_000  # keep clear of a rounding edge for remainingMinutes
    t = lambda ms: iso_ms(ms)  # noqa: E731
    files = {"projects/-p/s.jsonl": [
        jline(t(now - 4 * 86_400_000), "s", "o1", S, 5000, 10, 0, 0, 0.5),
        jline(t(now - 2 * 86_400_000), "s", "o2", S, 1000, 20, 5, 5, 0.25),
        jline(t(now - 50 * 60_000), "s", "n1", S, 300, 30, 100, 1000, 0.123),
        jline(t(now - 7 * 60_000), "s", "n2", O, 333, 33, 100, 1000, 0.456),
    ]}
    rows = rows_from_files(files)
    with tempfile.TemporaryDirectory() as root:
        p = Path(root, "projects/-p/s.jsonl")
        p.parent.mkdir(parents=True)
        p.write_text("".join(x + "\n" for x in files["projects/-p/s.jsonl"]))
        env = {"PATH": os.environ.get("PATH", ""), "HOME": root, "CLAUDE_CONFIG_DIR": root, "TZ": "UTC"}
        for args in (["blocks", "--mode", "display"], ["blocks", "--mode", "display", "--token-limit", "max"],
                     ["blocks", "--mode", "display", "--token-limit", "0"],
                     ["blocks", "--mode", "display", "--active", "--token-limit", "max"],
                     ["blocks", "--mode", "display", "--recent", "--token-limit", "5000"]):
            before = int(time.time() * 1000)
            proc = subprocess.run([exe, "claude", *args, "--json", "--offline"], env=env, capture_output=True,
                                  text=True, timeout=120)
            after = int(time.time() * 1000)
            assert proc.returncode == 0, proc.stderr
            theirs = json.loads(proc.stdout)
            candidates = [strip_ours(ours_for(args, rows, "UTC", now=n)) for n in (before, after)]
            assert any(same_json(c, theirs) for c in candidates), (args, candidates[0], theirs)
            assert any(b["isActive"] for b in theirs["blocks"])


# ---------------------------------------------------------------- rules, unit by unit

def r(ts: int, device: str = "laptop", model: str = S, cost: float = 1.0, i: int = 10, o: int = 5,
      cc: int = 0, cr: int = 0, count: int = 1, ts_last: int = -1, provider: str = "claude",
      reset: int | None = None) -> UsageRow:
    return UsageRow(ts, device, provider, model, "-p", "s", i, o, cc, cr, cost, count=count, ts_last=ts_last,
                    usage_limit_reset=reset)


T0 = parse_ts("2024-06-01T10:00:00.000Z")
FAR = parse_ts("2030-01-01T00:00:00.000Z")


def report(rows: list[UsageRow], now: int = FAR, **kw: Any) -> list[dict[str, Any]]:
    return B.blocks_report(rows, now_ms=now, **kw)["blocks"]


def ids(blocks: list[dict[str, Any]]) -> list[str]:
    return [b["id"] for b in blocks]


def test_exactly_five_hours_from_start_stays_and_one_ms_more_starts_a_block() -> None:
    assert ids(report([r(T0 + 15 * 60_000), r(T0 + D5)])) == [iso_ms(T0)]
    out = report([r(T0 + 15 * 60_000), r(T0 + D5 + 1)])
    assert ids(out) == [iso_ms(T0), iso_ms(T0 + D5)]  # no gap: silence was < 5 h


def test_five_hours_of_silence_exactly_is_no_gap_but_more_is() -> None:
    out = report([r(T0), r(T0 + 2 * H), r(T0 + 7 * H)])  # 5 h silence, 7 h from start
    assert ids(out) == [iso_ms(T0), iso_ms(T0 + 7 * H)]
    out = report([r(T0), r(T0 + 2 * H), r(T0 + 7 * H + 1)])
    assert ids(out) == [iso_ms(T0), "gap-" + iso_ms(T0 + 7 * H), iso_ms(T0 + 7 * H)]  # a tie: gap first
    gap = out[1]
    assert gap["isGap"] and gap["endTime"] == iso_ms(T0 + 7 * H + 1) and gap["costUSD"] == 0
    assert type(gap["costUSD"]) is int and gap["actualEndTime"] is None


def test_gap_tying_with_the_next_block_start_comes_first_and_desc_reverses_all() -> None:
    rows = [r(T0), r(T0 + 3 * H), r(T0 + 8 * H + 30 * 60_000)]  # gap from T0+8h ties the block at T0+8h
    assert ids(report(rows)) == [iso_ms(T0), "gap-" + iso_ms(T0 + 8 * H), iso_ms(T0 + 8 * H)]
    assert ids(report(rows, order="desc")) == [iso_ms(T0 + 8 * H), "gap-" + iso_ms(T0 + 8 * H), iso_ms(T0)]


def test_one_entry_block_has_no_burn_rate_even_when_active() -> None:
    b = report([r(T0 + 60_000)], now=T0 + 2 * 60_000)[0]
    assert b["isActive"] and b["burnRate"] is None and b["projection"] is None


def test_active_boundaries() -> None:
    rows = [r(T0 + 10 * 60_000), r(T0 + 70 * 60_000)]
    last = T0 + 70 * 60_000
    assert report(rows, now=T0 + D5 - 1)[0]["isActive"]
    assert not report(rows, now=T0 + D5)[0]["isActive"]  # now == endTime
    assert report(rows, now=last)[0]["isActive"]
    # `now - last < D` never decides alone: last >= start, so now < end already implies it
    assert B.is_active(B.identify([r(T0), r(T0 + 1000)], 2 * H)[0], T0 + 2 * H - 1)  # type: ignore[arg-type]
    assert not B.is_active(B.identify([r(T0), r(T0 + 1000)], 2 * H)[0], T0 + 2 * H)  # type: ignore[arg-type]


def test_burn_rate_and_projection_formulas() -> None:
    rows = [r(T0 + 10 * 60_000, i=300, o=30, cc=100, cr=1000, cost=0.123),
            r(T0 + 53 * 60_000, model=O, i=333, o=33, cc=100, cr=1000, cost=0.456)]
    now = T0 + 60 * 60_000 + 10_000  # remaining 239.83 min -> 240
    b = report(rows, now=now)[0]
    minutes = 43
    assert b["burnRate"] == {"costPerHour": 0.579 / minutes * 60, "tokensPerMinute": 2896 / minutes,
                             "tokensPerMinuteForIndicator": 696 / minutes}
    assert b["projection"] == {"remainingMinutes": 240, "totalCost": round(0.579 + 0.579 / minutes * 240, 2),
                               "totalTokens": round(2896 + 2896 / minutes * 240)}
    b = report(rows, now=T0 + 60 * 60_000 + 30_000)[0]  # exactly 239.5 min: half away from zero
    assert b["projection"]["remainingMinutes"] == 240


def test_token_limit_number_max_and_zero() -> None:
    old = [r(T0 - 4 * 86_400_000, i=5000), r(T0 - 2 * 86_400_000, i=1000)]
    now_rows = [r(T0, i=100, o=0), r(T0 + 30 * 60_000, i=100, o=0)]
    now = T0 + 40 * 60_000
    out = report(old + now_rows, now=now, token_limit="max")
    active = [b for b in out if b["isActive"]][0]
    status = active["tokenLimitStatus"]
    assert status["limit"] == 5005 and status["projectedUsage"] == active["projection"]["totalTokens"]
    assert all("tokenLimitStatus" not in b for b in out if not b["isActive"])
    # max is computed after filters: --active leaves no inactive block, so no status
    assert "tokenLimitStatus" not in report(old + now_rows, now=now, token_limit="max", active_only=True)[0]
    recent = report(old + now_rows, now=now, token_limit="", recent=True)  # the 4-day-old block goes first
    assert recent[-1]["tokenLimitStatus"]["limit"] == 1005
    zero = report(old + now_rows, now=now, token_limit=0)[-1]["tokenLimitStatus"]
    assert zero == {"limit": 0, "percentUsed": None, "projectedUsage": zero["projectedUsage"], "status": "exceeds"}
    proj = active["projection"]["totalTokens"]
    got = report(now_rows, now=now, token_limit=proj - 1)[0]["tokenLimitStatus"]
    assert got == {"limit": proj - 1, "percentUsed": proj / (proj - 1) * 100, "projectedUsage": proj,
                   "status": "exceeds"}
    # the statuses ccusage printed for a projection of 16164 tokens
    for limit, pct, want in ((16164, 100.0, "warning"), (16163, 100.00618697024066, "exceeds"),
                             (20205, 80.0, "ok"), (20204, 80.00395961195804, "warning")):
        assert B.token_limit_status(16164, limit) == {"limit": limit, "percentUsed": pct, "projectedUsage": 16164,
                                                      "status": want}
    # no projection (one entry): no status, as ccusage
    assert "tokenLimitStatus" not in report([r(T0)], now=T0 + 1, token_limit=10)[0]
    with pytest.raises(ConfigError):
        report(now_rows, token_limit=-1)


def test_recent_keeps_three_days_and_the_active_block() -> None:
    rows = [r(T0 - 4 * 86_400_000), r(T0 - 2 * 86_400_000), r(T0), r(T0 + 60_000)]
    out = report(rows, now=T0 + 2 * 60_000, recent=True)
    assert ids(out) == [iso_ms(T0 - 2 * 86_400_000), "gap-" + iso_ms(T0 - 2 * 86_400_000 + D5), iso_ms(T0)]
    assert ids(report(rows, now=T0 + 2 * 60_000, active_only=True)) == [iso_ms(T0)]


def test_since_until_use_block_start_in_zone() -> None:
    rows = [r(parse_ts("2024-05-01T22:30:00Z")), r(parse_ts("2024-05-02T01:00:00Z"))]
    utc, tokyo = resolve_tz("UTC"), resolve_tz("Asia/Tokyo")
    assert report(rows, tz=utc, since=date(2024, 5, 2)) == []
    assert len(report(rows, tz=utc, until=date(2024, 5, 1))) == 1
    assert len(report(rows, tz=tokyo, since=date(2024, 5, 2), until=date(2024, 5, 2))) == 1


def test_session_length_is_truncated_to_ms_and_validated() -> None:
    assert B.session_length_ms(0.99999999) == 3_599_999
    assert B.session_length_ms(1.0000009) == 3_600_003
    for bad in (0, -1, float("inf"), float("nan"), True):
        with pytest.raises(ConfigError):
            B.session_length_ms(bad)  # type: ignore[arg-type]


def test_non_claude_rows_are_ignored() -> None:
    out = report([r(T0), r(T0 + 1, provider="codex", i=999)])
    assert out[0]["tokenCounts"]["inputTokens"] == 10


def test_usage_limit_reset_first_non_null() -> None:
    out = report([r(T0), r(T0 + 1, reset=1717333200), r(T0 + 2, reset=1717336800)])
    assert out[0]["usageLimitResetTime"] == "2024-06-02T13:00:00.000Z"
    assert "usageLimitResetTime" not in report([r(T0)])[0]


def test_models_exclude_synthetic_and_keep_time_order() -> None:
    out = report([r(T0, model="b"), r(T0 + 1, model="<synthetic>"), r(T0 + 2, model=""), r(T0 + 3, model="a"),
                  r(T0 + 4, model="b")])
    assert out[0]["models"] == ["b", "a"] and out[0]["entries"] == 5


def test_block_key_order_is_ccusages() -> None:
    b = report([r(T0), r(T0 + 60_000)], now=T0 + 120_000, token_limit=10)[0]
    assert list(b) == sorted(b)


# ---------------------------------------------------------------- devices, shares, overlap

def test_device_shares_sum_to_one() -> None:
    rows = [r(T0 + k * 60_000, device=("a", "b", "c")[k % 3], cost=0.1 * (k + 1)) for k in range(20)]
    devs = report(rows)[0]["devices"]
    assert math.isclose(sum(d["share"] for d in devs), 1.0)
    assert sum(d["entries"] for d in devs) == 20
    assert [d["costUSD"] for d in devs] == sorted((d["costUSD"] for d in devs), reverse=True)
    zero = report([r(T0, device="a", cost=0.0, i=3, o=0), r(T0 + 1, device="b", cost=0.0, i=1, o=0)])[0]["devices"]
    assert [d["share"] for d in zero] == [0.75, 0.25]
    empty = report([r(T0, device="a", cost=0.0, i=0, o=0), r(T0 + 1, device="b", cost=0.0, i=0, o=0)])[0]
    assert [d["share"] for d in empty["devices"]] == [0.5, 0.5]


def test_overlap_cases() -> None:
    m = 60_000
    # a: [0, 30], b: [10] -> b's point inside a's interval
    assert report([r(T0, "a"), r(T0 + 10 * m, "b"), r(T0 + 30 * m, "a")])[0]["overlap"]
    # a: [0, 10], b: [20, 30] -> disjoint
    assert not report([r(T0, "a"), r(T0 + 10 * m, "a"), r(T0 + 20 * m, "b"), r(T0 + 30 * m, "b")])[0]["overlap"]
    # touching at one instant counts; one millisecond apart does not
    assert report([r(T0, "a"), r(T0 + 10 * m, "a"), r(T0 + 10 * m, "b")])[0]["overlap"]
    assert not report([r(T0, "a"), r(T0 + 10 * m, "a"), r(T0 + 10 * m + 1, "b")])[0]["overlap"]
    # single device never overlaps; two single-entry devices at different instants do not
    assert not report([r(T0, "a"), r(T0 + m, "a")])[0]["overlap"]
    assert not report([r(T0, "a"), r(T0 + m, "b")])[0]["overlap"]
    # a bucket's span counts as activity: a [0, 59s] bucket overlaps b at 30 s
    assert report([r(T0, "a", count=5, ts_last=T0 + 59_000), r(T0 + 30_000, "b")])[0]["overlap"]
    # third device bridging
    assert report([r(T0, "a"), r(T0 + 5 * m, "b"), r(T0 + 20 * m, "b"), r(T0 + 21 * m, "c"),
                   r(T0 + 22 * m, "c"), r(T0 + 40 * m, "a")])[0]["overlap"]


def test_device_first_and_last_entries() -> None:
    devs = report([r(T0, "a"), r(T0 + 1000, "b", count=2, ts_last=T0 + 5000), r(T0 + 9000, "a")])[0]["devices"]
    by = {d["device"]: d for d in devs}
    assert (by["a"]["firstEntry"], by["a"]["lastEntry"]) == (iso_ms(T0), iso_ms(T0 + 9000))
    assert (by["b"]["firstEntry"], by["b"]["lastEntry"], by["b"]["entries"]) == (
        iso_ms(T0 + 1000), iso_ms(T0 + 5000), 2)


# ---------------------------------------------------------------- buckets and device splits

def test_minute_buckets_give_the_same_blocks_as_entries() -> None:
    """Entries pre-summed per device and minute (an entry at a minute's first ms alone), as the store does."""
    import random

    rnd = random.Random(7)
    ts, entries = T0, []
    for _ in range(600):
        ts += rnd.choice((0, 1, 999, 30_000, 59_999, 60_000, 3 * H, D5, D5 + 1, 6 * H))
        if rnd.random() < 0.1:
            ts -= ts % 60_000
        entries.append(r(ts, device=rnd.choice("ab"), cost=rnd.choice((0.5, 0.25, 0.125)), i=rnd.randrange(50)))
    entries.sort(key=lambda e: e.ts)
    buckets: dict[tuple[int, bool, str], list[UsageRow]] = {}
    for e in entries:
        buckets.setdefault((e.ts // 60_000, e.ts % 60_000 == 0, e.device), []).append(e)
    summed = sorted((r(min(x.ts for x in g), device=g[0].device, cost=sum(x.cost for x in g),
                       i=sum(x.input_tokens for x in g), o=sum(x.output_tokens for x in g), count=len(g),
                       ts_last=max(x.ts for x in g)) for g in buckets.values()), key=lambda x: x.ts)
    a, b = report(entries), report(summed)
    assert [(x["id"], x["endTime"], x["actualEndTime"], x["entries"], x["totalTokens"], x["overlap"]) for x in a] == \
        [(x["id"], x["endTime"], x["actualEndTime"], x["entries"], x["totalTokens"], x["overlap"]) for x in b]
    assert all(math.isclose(x["costUSD"], y["costUSD"]) for x, y in zip(a, b))


_times = st.lists(st.integers(min_value=0, max_value=40 * H), min_size=1, max_size=60)


@settings(max_examples=200, deadline=None)
@given(_times, st.lists(st.sampled_from(("a", "b", "c")), min_size=60, max_size=60),
       st.sampled_from((5.0, 1.0, 2.5, 0.5)))
def test_splitting_rows_across_devices_never_changes_block_totals(offsets: list[int], devices: list[str],
                                                                  hours: float) -> None:
    offsets.sort()
    one = [r(T0 + t, device="solo", cost=0.25, i=t % 97, cr=t % 13) for t in offsets]
    many = [r(T0 + t, device=devices[k], cost=0.25, i=t % 97, cr=t % 13) for k, t in enumerate(offsets)]
    a, b = report(one, session_hours=hours), report(many, session_hours=hours)
    assert strip_ours(a) == strip_ours(b)
    for blk in b:
        if not blk["isGap"]:
            assert sum(d["entries"] for d in blk["devices"]) == blk["entries"]
            assert sum(d["totalTokens"] for d in blk["devices"]) == blk["totalTokens"]
            assert math.isclose(sum(d["share"] for d in blk["devices"]), 1.0)


def test_iso_format_is_ccusages() -> None:
    assert iso_ms(0) == "1970-01-01T00:00:00.000Z"
    assert iso_ms(1717333200123) == "2024-06-02T13:00:00.123Z"
    assert iso_ms(parse_ts("2024-02-29T23:59:59.999Z")) == "2024-02-29T23:59:59.999Z"
    assert datetime.fromtimestamp(1717333200, timezone.utc).isoformat().startswith("2024-06-02T13:00")


# ---------------------------------------------------------------- earlier cases (kept from the first test file)

T1 = 1_767_952_800_000  # 2026-01-09T10:00:00Z, an exact hour


def _row(ts: int, device: str = "a", tokens: int = 100, cost: float = 1.0) -> UsageRow:
    return UsageRow(ts, device, "claude", "claude-sonnet-4-5", "p", "s", tokens, 0, 0, 0, cost)


def _ids(rep: dict[str, Any]) -> list[str]:
    return [b["id"] for b in rep["blocks"]]


def test_earlier_block_starts_at_the_utc_hour_and_exactly_five_hours_stays_inside():
    rep = blocks_report([_row(T1 + 17 * 60_000), _row(T1 + 5 * H)], now_ms=T1 + 100 * H)
    assert _ids(rep) == ["2026-01-09T10:00:00.000Z"]
    assert rep["blocks"][0]["entries"] == 2


def test_earlier_one_millisecond_past_five_hours_starts_a_new_block_without_gap():
    rep = blocks_report([_row(T1), _row(T1 + 3 * H), _row(T1 + 5 * H + 1)], now_ms=T1 + 100 * H)
    assert _ids(rep) == ["2026-01-09T10:00:00.000Z", "2026-01-09T15:00:00.000Z"]


def test_earlier_silence_longer_than_five_hours_makes_a_gap_block():
    rep = blocks_report([_row(T1 + 30 * 60_000), _row(T1 + 30 * 60_000 + 5 * H + 1)], now_ms=T1 + 100 * H)
    assert [b["isGap"] for b in rep["blocks"]] == [False, False, True]  # sorted by start: 15:00, gap 15:30
    gap = rep["blocks"][2]
    assert gap["id"] == "gap-2026-01-09T15:30:00.000Z"
    assert gap["endTime"] == "2026-01-09T15:30:00.001Z"
    assert gap["actualEndTime"] is None and gap["entries"] == 0


def test_earlier_one_entry_block_has_no_burn_rate_even_when_active():
    rep = blocks_report([_row(T1)], now_ms=T1 + H)
    b = rep["blocks"][0]
    assert b["isActive"] and b["burnRate"] is None and b["projection"] is None


def test_earlier_active_block_burn_rate_projection_and_token_limit():
    rows = [_row(T1), _row(T1 + 30 * 60_000, tokens=200), _row(T1 + 3 * H, tokens=300)]
    past = [_row(T1 - 48 * H, tokens=1000)]
    rep = blocks_report(past + rows, now_ms=T1 + 4 * H, token_limit="max")
    active = [b for b in rep["blocks"] if b["isActive"]]
    assert len(active) == 1
    a = active[0]
    assert a["burnRate"]["tokensPerMinute"] == 600 / 180
    assert a["projection"]["remainingMinutes"] == 60
    assert a["projection"]["totalTokens"] == round(600 + 600 / 180 * 60)
    assert a["tokenLimitStatus"]["limit"] == 1000
    assert a["tokenLimitStatus"]["status"] == "ok"


def test_earlier_block_becomes_inactive_after_five_hours_of_silence_or_its_end():
    rows = [_row(T1), _row(T1 + H)]
    assert blocks_report(rows, now_ms=T1 + 4 * H)["blocks"][0]["isActive"]
    assert not blocks_report(rows, now_ms=T1 + 5 * H)["blocks"][0]["isActive"]
    assert blocks_report(rows, now_ms=T1 + 4 * H, active_only=True)["blocks"]
    assert not blocks_report(rows, now_ms=T1 + 6 * H + 1, active_only=True)["blocks"]


def test_earlier_device_shares_and_overlap():
    rows = [_row(T1, "a", cost=3.0), _row(T1 + 60_000, "b", cost=1.0), _row(T1 + 2 * 60_000, "a", cost=0.0)]
    b = blocks_report(rows, now_ms=T1 + 100 * H)["blocks"][0]
    shares = {d["device"]: d["share"] for d in b["devices"]}
    assert shares == {"a": 0.75, "b": 0.25}
    assert b["overlap"] is True  # b's entry falls inside a's activity interval
    apart = [_row(T1, "a"), _row(T1 + 60_000, "a"), _row(T1 + 2 * 60_000, "b")]
    assert blocks_report(apart, now_ms=T1 + 100 * H)["blocks"][0]["overlap"] is False


def test_earlier_splitting_rows_across_devices_never_changes_block_totals():
    rows = [_row(T1 + i * 37 * 60_000, tokens=10 + i) for i in range(40)]
    split = [_row(r.ts, "ab"[i % 2], tokens=r.input_tokens) for i, r in enumerate(rows)]
    strip = lambda rep: [(b["id"], b["totalTokens"], b["entries"]) for b in rep["blocks"]]  # noqa: E731
    assert strip(blocks_report(rows, now_ms=T1 + 1000 * H)) == strip(blocks_report(split, now_ms=T1 + 1000 * H))
