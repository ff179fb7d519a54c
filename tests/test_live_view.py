"""The live monitor's pure parts: snapshot math (meshd/core/live.py) and the renderer (cli/live_view.py)."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timezone

import pytest

from meshctl import live_view as V
from meshctl.live_cmd import color_level
from meshd.core import live as L
from meshd.core.entry import UsageRow

H = 3_600_000
NOW = 1_763_900_000_000 - 1_763_900_000_000 % H + 2 * H + 17 * 60_000  # 2h17m into an hour-aligned block
START = NOW - 2 * H - 17 * 60_000
SIZES = [(80, 24), (200, 50), (120, 30), (100, 24), (60, 16), (59, 24), (40, 10), (20, 5), (1, 1), (300, 3)]


def block(**kw) -> L.ActiveBlock:  # type: ignore[no-untyped-def]
    d = dict(start_ms=START, end_ms=START + 5 * H, first_ms=START + 60_000, last_ms=NOW - 60_000, entries=1234,
             tokens=4_560_000, cost=12.34, cost_per_hour=4.2, tokens_per_minute=31_200.0,
             devices=(L.DeviceShare("laptop", True, 2_800_000, 7.65, 0.62, 700),
                      L.DeviceShare("desktop", False, 1_100_000, 3.09, 0.25, 300),
                      L.DeviceShare("vm", False, 660_000, 1.60, 0.13, 234)), overlap=True)
    d.update(kw)
    return L.ActiveBlock(**d)  # type: ignore[arg-type]


def snap(**kw) -> L.Snapshot:  # type: ignore[no-untyped-def]
    d = dict(taken_ms=NOW, device_name="laptop", device_id="a" * 32, block=block(),
             split=L.Split(L.Totals(2_800_000, 7.65), L.Totals(1_760_000, 4.69), 2), today="2025-11-23",
             today_local=L.Totals(9_000_000, 20.0), today_remote=L.Totals(3_300_000, 14.56),
             limits=(L.LimitReading("5h", 48.2, NOW + H, NOW - 180_000, "desktop"),
                     L.LimitReading("7d", 91.0, NOW + 3 * 86_400_000, NOW - 180_000, "desktop")),
             plan=L.Plan("max5x", 100.0), plan_known=True, month_cost=123.45, daemon=True,
             peers=(L.Peer("desktop", "b" * 32, "online", NOW - 4000),
                    L.Peer("vm", "c" * 32, "offline", NOW - 7_500_000)), devices=3, feed="watch", tz=timezone.utc)
    d.update(kw)
    return L.Snapshot(**d)  # type: ignore[arg-type]


def text(lines: list[str]) -> str:
    return "\n".join(V.visible(x) for x in lines)


# --- core ---------------------------------------------------------------------------------------


def row(ts: int, device: str, cost: float = 1.0, tokens: int = 1000, provider: str = "claude") -> UsageRow:
    return UsageRow(ts, device, provider, "claude-sonnet-4-5", "", "", tokens, 0, 0, 0, cost)


def test_active_block_split_by_device() -> None:
    rows = [row(START + 60_000, "laptop", 1.0), row(START + 120_000, "desktop", 3.0), row(NOW - 60_000, "vm", 4.0),
            row(NOW - 30_000, "codexbox", 100.0, provider="codex")]
    b, sp = L.active_block(rows, me="laptop", now_ms=NOW)
    assert b is not None and sp is not None
    assert b.start_ms == START and b.end_ms == START + 5 * H and b.cost == 8.0 and b.entries == 3
    assert [d.name for d in b.devices] == ["vm", "desktop", "laptop"]
    assert sum(d.share for d in b.devices) == pytest.approx(1.0)
    assert sp.local == L.Totals(1000, 1.0) and sp.remote == L.Totals(2000, 7.0) and sp.remote_hosts == 2
    assert sp.total == L.Totals(3000, 8.0)
    assert b.cost_per_hour == pytest.approx(8.0 / ((NOW - 60_000 - START - 60_000) / 3_600_000))


def test_no_active_block_when_silent_or_empty() -> None:
    assert L.active_block([], me="x", now_ms=NOW) == (None, None)
    old = [row(NOW - 6 * H, "x")]
    assert L.active_block(old, me="x", now_ms=NOW) == (None, None)


def test_single_entry_block_has_no_rate_and_no_projection() -> None:
    b, _ = L.active_block([row(NOW - 1000, "x")], me="x", now_ms=NOW)
    assert b is not None and b.cost_per_hour is None and L.projection(b, NOW) is None
    out = text(V.render(snap(block=b), 80, 24, now_ms=NOW))
    assert "not enough activity yet" in out


def test_projection_and_time_left() -> None:
    b = block()
    assert L.minutes_left(b, NOW) == 5 * 60 - 137
    cost, toks = L.projection(b, NOW)  # type: ignore[misc]
    assert cost == pytest.approx(12.34 + 4.2 / 60 * 163)
    assert toks == int(4_560_000 + 31_200 * 163 + 0.5)
    assert L.minutes_left(b, START + 6 * H) == 0
    assert not L.is_live(b, START + 5 * H) and L.is_live(b, NOW)


def test_limit_levels_and_freshest() -> None:
    assert [L.limit_level(x) for x in (0, 69.9, 70, 89.9, 90, 105, float("nan"))] == \
        ["ok", "ok", "warn", "warn", "high", "high", "high"]
    rs = [L.LimitReading("7d", 10, None, 5, "a"), L.LimitReading("5h", 30, None, 7, "b"),
          L.LimitReading("5h", 20, None, 9, "c"), L.LimitReading("7d", 50, None, 4, "d")]
    assert [(r.window, r.device) for r in L.freshest(rs)] == [("5h", "c"), ("7d", "a")]
    assert L.freshest([]) == ()


def test_plan_below_its_price_shows_a_percentage() -> None:
    out = text(V.render(snap(month_cost=12.0), 80, 24, "none", NOW))
    assert "month $12.00 API-equivalent (12% of the plan)" in out


def test_ago_and_plan_multiple() -> None:
    assert [L.ago(x) for x in (-5, 0, 59_999, 60_000, 3_599_000, 3_600_000, 7_500_000, 90_000_000)] == \
        ["0s", "0s", "59s", "1m", "59m", "1h00m", "2h05m", "1d"]
    assert L.plan_multiple(L.Plan("max5x", 100.0), 250.0) == 2.5
    assert L.plan_multiple(L.Plan("api", None), 250.0) is None
    assert L.plan_multiple(None, 1.0) is None and L.plan_multiple(L.Plan("pro", 20.0), None) is None


# --- renderer -----------------------------------------------------------------------------------


@pytest.mark.parametrize("w,h", SIZES)
@pytest.mark.parametrize("color", V.COLOR_LEVELS)
def test_every_frame_fits(w: int, h: int, color: str) -> None:
    for s in (snap(), snap(block=None, split=None, limits=None, peers=None, daemon=False, plan_known=False),
              snap(peers=tuple(L.Peer(f"host{i}", f"{i:032x}", "online", NOW) for i in range(40)))):
        lines = V.render(s, w, h, color, NOW)
        assert V.frame_fits(lines, w, h), (w, h, color, text(lines))


def test_80x24_shows_everything_the_issue_lists() -> None:
    out = text(V.render(snap(), 80, 24, "none", NOW))
    for want in ("Block", "–", "2h43m left", "$12.34", "4.56M", "$4.20/h",
                 "Projected $23.75", "laptop*", "desktop", "62%", "Local", "Remote", "(2 hosts)", "Total",
                 "5-hour", "48%", "7-day", "91%", "3m ago from desktop", "Today", "$34.56", "max5x $100/mo",
                 "(1.2× the plan)", "desktop online synced 4s ago", "vm offline synced 2h05m ago", "overlap"):
        assert want in out, (want, out)
    assert len(out.splitlines()) <= 24 and V.layout_for(80, 24) == "normal"


def test_wide_layout_uses_two_columns() -> None:
    lines = V.render(snap(), 200, 50, "none", NOW)
    assert V.layout_for(200, 50) == "wide"
    both = [x for x in map(V.visible, lines) if "Active block" in x]
    assert both and "Official limits" in both[0]
    assert len(lines) < 20  # side by side: shorter than the stacked layout


def test_compact_layout_is_the_seeds_lines() -> None:
    out = text(V.render(snap(), 50, 12, "none", NOW))
    assert V.layout_for(50, 12) == "compact" and V.layout_for(200, 50, compact=True) == "compact"
    assert re.search(r"^Local: +2\.80M +\$7\.65$", out, re.M), out
    assert re.search(r"^Remote: +1\.76M +\$4\.69 \(2 hosts\)$", out, re.M), out
    assert re.search(r"^Total: +4\.56M +\$12\.34$", out, re.M), out
    assert "Peers 1 online, 1 offline" in out


def test_no_color_means_no_escape_codes_and_colors_follow_levels() -> None:
    assert "\x1b" not in "".join(V.render(snap(), 80, 24, "none", NOW))
    c16 = "".join(V.render(snap(), 80, 24, "16", NOW))
    assert "\x1b[32m" in c16 and "\x1b[31m" in c16  # the 5h bar green (48 %), the 7d red (91 %)
    assert "\x1b[38;5;" in "".join(V.render(snap(), 80, 24, "256", NOW))
    assert "\x1b[38;2;" in "".join(V.render(snap(), 80, 24, "truecolor", NOW))
    yellow = snap(limits=(L.LimitReading("5h", 75.0, None, NOW, "x"),))
    assert "\x1b[33m" in "".join(V.render(yellow, 80, 24, "16", NOW))


def test_color_level_detection() -> None:
    assert color_level({"NO_COLOR": "1", "TERM": "xterm-256color", "COLORTERM": "truecolor"}, True) == "none"
    assert color_level({"TERM": "xterm-256color"}, False) == "none"
    assert color_level({"TERM": "dumb"}, True) == "none"
    assert color_level({"TERM": "xterm"}, True) == "16"
    assert color_level({"TERM": "screen-256color"}, True) == "256"
    assert color_level({"TERM": "xterm", "COLORTERM": "truecolor"}, True) == "truecolor"
    assert color_level({"NO_COLOR": "", "TERM": "xterm"}, True) == "16"  # empty NO_COLOR does not count


def test_no_block_no_peers_no_readings() -> None:
    s = snap(block=None, split=None, limits=(), peers=(), plan=None, month_cost=None)
    out = text(V.render(s, 80, 24, "none", NOW))
    assert "No active block" in out and "no reading yet from any machine" in out
    assert "No peers yet" in out and "Plan    not set" in out
    out = text(V.render(snap(limits=None, plan_known=False, daemon=False, peers=None), 80, 24, "none", NOW))
    assert "no reading yet" in out and "no plan setting yet" in out and "No daemon" in out


def test_block_that_ended_since_the_snapshot_is_not_shown() -> None:
    out = text(V.render(snap(), 80, 24, "none", START + 5 * H + 1))
    assert "No active block" in out


def test_expired_reading_says_reset() -> None:
    s = snap(limits=(L.LimitReading("5h", 97.0, NOW - 60_000, NOW - H, "desk"),))
    out = text(V.render(s, 80, 24, "none", NOW))
    assert "reset " in out and "1h00m ago from desk" in out
    assert "\x1b[31m" not in "".join(V.render(s, 80, 24, "16", NOW))  # an old window is not a red alert


def test_huge_and_broken_numbers_still_fit() -> None:
    big = 10**17
    b = block(tokens=big, cost=9.9e13, cost_per_hour=float("inf"), tokens_per_minute=1e15,
              devices=tuple(L.DeviceShare("x" * 300 + str(i), i == 0, big, 9e13, 1 / 30, 10**12) for i in range(30)))
    s = snap(block=b, split=L.Split(L.Totals(big, 9e13), L.Totals(big, float("nan")), 10**6),
             today_local=L.Totals(big, 1e300), month_cost=float("inf"),
             limits=(L.LimitReading("5h", 1e9, None, NOW, "y" * 500), L.LimitReading("7d", -5, None, NOW + H, "z")))
    for w, h in SIZES:
        lines = V.render(s, w, h, "16", NOW)
        assert V.frame_fits(lines, w, h), (w, h, text(lines))
    out = text(V.render(s, 80, 24, "none", NOW))
    assert "$99.00T" in out and "100.0P" not in out and "+" in out  # device rows capped with "+N more"


def test_hostile_names_cannot_reach_the_terminal() -> None:
    evil = "\x1b]0;pwned\x07\x1b[2J\u202eevil\r\n"
    s = snap(device_name=evil, block=block(devices=(L.DeviceShare(evil, False, 1, 1.0, 1.0, 1),)),
             peers=(L.Peer(evil, "d" * 32, evil, NOW, error=evil),),
             limits=(L.LimitReading(evil, 50, None, NOW, evil),), plan=L.Plan(evil, 1.0))
    for w, h in ((80, 24), (200, 50), (40, 10)):
        raw = "".join(V.render(s, w, h, "none", NOW))
        assert "\x1b" not in raw and "\x07" not in raw and "\r" not in raw and "\u202e" not in raw
        coloured = V.render(s, w, h, "16", NOW)
        assert all(re.fullmatch(r"(?:[^\x00-\x1f\x7f]|\x1b\[[0-9;]*m)*", x) for x in coloured)


def test_wide_characters_are_measured() -> None:
    s = snap(block=block(devices=(L.DeviceShare("東京のマシン" * 5, True, 1, 1.0, 1.0, 1),)))
    for w, h in SIZES:
        assert V.frame_fits(V.render(s, w, h, "none", NOW), w, h)


def test_ascii_fallback() -> None:
    lines = V.render(snap(), 80, 24, "none", NOW, unicode=False)
    assert all(x.isascii() for x in lines), [x for x in lines if not x.isascii()]
    assert V.frame_fits(lines, 80, 24)


def test_render_is_pure() -> None:
    s = snap()
    assert V.render(s, 80, 24, "16", NOW) == V.render(s, 80, 24, "16", NOW)
    assert V.render(s, 80, 24, "16", NOW) != V.render(s, 80, 24, "16", NOW + 61_000)  # the clock moves
    assert replace(s) == s


def test_a_read_problem_is_shown_on_the_last_row() -> None:
    for w, h in ((80, 24), (200, 50), (40, 8)):
        lines = V.render(snap(notes=("ingest: OSError: gone\x1b[2J",)), w, h, "none", NOW)
        assert V.visible(lines[-1]).startswith("! ingest: OSError: gone?[2J"[: w - 1]) and V.frame_fits(lines, w, h)


def test_extra_official_windows() -> None:
    s = snap(limits=(L.LimitReading("7d opus", 12.0, None, NOW, "x"), L.LimitReading("5h", 1.0, None, NOW, "x"),
                     L.LimitReading("7d", 2.0, None, NOW, "x")))
    out = text(V.render(s, 80, 24, "none", NOW))
    assert out.index("5-hour") < out.index("7-day") < out.index("7d opus")
    assert "7d opus" not in text(V.render(s, 50, 12, "none", NOW))  # compact: the two account windows only


def test_pace_marker_on_official_bars() -> None:
    r = L.LimitReading("5h", 10.0, NOW + 3 * H, NOW, "x")  # 2 of 5 hours gone
    assert L.window_elapsed(r, NOW) == pytest.approx(0.4)
    assert L.window_elapsed(L.LimitReading("5h", 10.0, None, NOW, "x"), NOW) is None
    assert L.window_elapsed(L.LimitReading("5h", 10.0, NOW - 1, NOW, "x"), NOW) is None  # reset since
    line = next(x for x in text(V.render(snap(limits=(r,)), 80, 24, "none", NOW)).splitlines() if "5-hour" in x)
    b = line[8:line.index(" ", 8)]
    assert b.count("┃") == 1 and abs(b.index("┃") / len(b) - 0.4) < 0.05, line
    assert V.frame_fits(V.render(snap(limits=(r,)), 80, 24, "16", NOW), 80, 24)
    ascii_line = next(x for x in V.render(snap(limits=(r,)), 80, 24, "none", NOW, unicode=False) if "5-hour" in x)
    assert "|" in ascii_line
