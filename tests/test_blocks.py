"""The blocks algorithm at its edges (pure core)."""

from __future__ import annotations

from meshd.core.blocks import blocks_report
from meshd.core.entry import UsageRow

H = 3_600_000
T0 = 1_767_952_800_000  # 2026-01-09T10:00:00Z, an exact hour


def row(ts: int, device: str = "a", tokens: int = 100, cost: float = 1.0) -> UsageRow:
    return UsageRow(ts, device, "claude", "claude-sonnet-4-5", "p", "s", tokens, 0, 0, 0, cost)


def ids(rep: dict) -> list[str]:
    return [b["id"] for b in rep["blocks"]]


def test_block_starts_at_the_utc_hour_and_exactly_five_hours_stays_inside():
    rep = blocks_report([row(T0 + 17 * 60_000), row(T0 + 5 * H)], now_ms=T0 + 100 * H)
    assert ids(rep) == ["2026-01-09T10:00:00.000Z"]
    assert rep["blocks"][0]["entries"] == 2


def test_one_millisecond_past_five_hours_starts_a_new_block_without_gap():
    rep = blocks_report([row(T0), row(T0 + 3 * H), row(T0 + 5 * H + 1)], now_ms=T0 + 100 * H)
    assert ids(rep) == ["2026-01-09T10:00:00.000Z", "2026-01-09T15:00:00.000Z"]


def test_silence_longer_than_five_hours_makes_a_gap_block():
    rep = blocks_report([row(T0 + 30 * 60_000), row(T0 + 30 * 60_000 + 5 * H + 1)], now_ms=T0 + 100 * H)
    assert [b["isGap"] for b in rep["blocks"]] == [False, True, False]
    gap = rep["blocks"][1]
    assert gap["id"] == "gap-2026-01-09T15:30:00.000Z"
    assert gap["endTime"] == "2026-01-09T15:30:00.001Z"
    assert gap["actualEndTime"] is None and gap["entries"] == 0


def test_one_entry_block_has_no_burn_rate_even_when_active():
    rep = blocks_report([row(T0)], now_ms=T0 + H)
    b = rep["blocks"][0]
    assert b["isActive"] and b["burnRate"] is None and b["projection"] is None


def test_active_block_burn_rate_projection_and_token_limit():
    rows = [row(T0), row(T0 + 30 * 60_000, tokens=200), row(T0 + 3 * H, tokens=300)]
    past = [row(T0 - 48 * H, tokens=1000)]
    rep = blocks_report(past + rows, now_ms=T0 + 4 * H, token_limit="max")
    active = [b for b in rep["blocks"] if b["isActive"]]
    assert len(active) == 1
    a = active[0]
    assert a["burnRate"]["tokensPerMinute"] == 600 / 180
    assert a["projection"]["remainingMinutes"] == 60
    assert a["projection"]["totalTokens"] == round(600 + 600 / 180 * 60)
    assert a["tokenLimitStatus"]["limit"] == 1000
    assert a["tokenLimitStatus"]["status"] == "ok"


def test_block_becomes_inactive_after_five_hours_of_silence_or_its_end():
    rows = [row(T0), row(T0 + H)]
    assert blocks_report(rows, now_ms=T0 + 4 * H)["blocks"][0]["isActive"]
    assert not blocks_report(rows, now_ms=T0 + 5 * H)["blocks"][0]["isActive"]
    assert blocks_report(rows, now_ms=T0 + 4 * H, active_only=True)["blocks"]
    assert not blocks_report(rows, now_ms=T0 + 6 * H + 1, active_only=True)["blocks"]


def test_device_shares_and_overlap():
    rows = [row(T0, "a", cost=3.0), row(T0 + 60_000, "b", cost=1.0), row(T0 + 2 * 60_000, "a", cost=0.0)]
    b = blocks_report(rows, now_ms=T0 + 100 * H)["blocks"][0]
    shares = {d["device"]: d["share"] for d in b["devices"]}
    assert shares == {"a": 0.75, "b": 0.25}
    assert b["overlap"] is True  # b's entry falls inside a's activity interval
    apart = [row(T0, "a"), row(T0 + 60_000, "a"), row(T0 + 2 * 60_000, "b")]
    assert blocks_report(apart, now_ms=T0 + 100 * H)["blocks"][0]["overlap"] is False


def test_splitting_rows_across_devices_never_changes_block_totals():
    rows = [row(T0 + i * 37 * 60_000, tokens=10 + i) for i in range(40)]
    split = [row(r.ts, "ab"[i % 2], tokens=r.input_tokens) for i, r in enumerate(rows)]
    strip = lambda rep: [(b["id"], b["totalTokens"], b["entries"]) for b in rep["blocks"]]  # noqa: E731
    assert strip(blocks_report(rows, now_ms=T0 + 1000 * H)) == strip(blocks_report(split, now_ms=T0 + 1000 * H))
