"""Reports against ccusage 20.0.24: golden outputs captured from the real binary, edge cases, shapes.

Goldens (tests/golden/ccusage_*.json) hold the Claude Code JSONL fixture that produced them, the
ccusage arguments and environment, and ccusage's JSON. Regenerate with
`CCUSAGE_BIN=... python -m tests.test_reports --regen`; `test_goldens_still_match_ccusage`
re-runs ccusage when it is installed.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from meshd.core import reports
from meshd.core.entry import UsageRow
from meshd.core.periods import resolve_tz

GOLDEN = Path(__file__).parent / "golden"
DEVICES = ("laptop", "desktop", "vm")
OURS = ("devices", "overlap", "providers", "provider", "reasoningOutputTokens")  # our additive fields, absent from ccusage's JSON


# ---------------------------------------------------------------- fixtures and the rows they mean

def jline(ts: str, session: str, mid: str, model: str, i: int, o: int, cc: int = 0, cr: int = 0,
          cost: float = 0.0, speed: str | None = None, limit_reset: int | None = None) -> str:
    """One Claude Code assistant line as ccusage reads it (compact JSON, costUSD for --mode display)."""
    usage: dict[str, Any] = {"input_tokens": i, "output_tokens": o, "cache_creation_input_tokens": cc,
                             "cache_read_input_tokens": cr}
    if speed:
        usage["speed"] = speed
    msg: dict[str, Any] = {"role": "assistant", "id": mid, "model": model, "usage": usage}
    d: dict[str, Any] = {"timestamp": ts, "sessionId": session, "message": msg, "requestId": "req-" + mid,
                         "costUSD": cost, "version": "1.0.0"}
    if limit_reset is not None:
        d["isApiErrorMessage"] = True
        msg["content"] = [{"type": "text", "text": f"Claude AI usage limit reached|{limit_reset}"}]
    return json.dumps(d, separators=(",", ":"))


def device_of(mid: str) -> str:
    """Deterministic device for a fixture line (ccusage knows no devices; only our fields use it)."""
    return DEVICES[sum(map(ord, mid)) % len(DEVICES)]


def parse_ts(s: str) -> int:
    """ISO 8601 UTC -> epoch ms."""
    dt = datetime.fromisoformat(s.replace("Z", "+00:00"))
    return int(dt.timestamp()) * 1000 + dt.microsecond // 1000


def rows_from_files(files: dict[str, list[str]]) -> list[UsageRow]:
    """The UsageRows a fixture means (display cost mode), sorted by time like the store hands them over."""
    out = []
    for path, lines in sorted(files.items()):
        parts = path.split("/")
        project, session = parts[1], parts[2].removesuffix(".jsonl")
        for ln in lines:
            d = json.loads(ln)
            m, u = d["message"], d["message"]["usage"]
            model = m["model"] + ("-fast" if u.get("speed") == "fast" and m["model"] != "<synthetic>" else "")
            reset = None
            if d.get("isApiErrorMessage"):
                reset = int(m["content"][0]["text"].rsplit("|", 1)[1])
            out.append(UsageRow(parse_ts(d["timestamp"]), device_of(m["id"]), "claude", model, project, session,
                                u["input_tokens"], u["output_tokens"], u.get("cache_creation_input_tokens", 0),
                                u.get("cache_read_input_tokens", 0), float(d.get("costUSD", 0.0)),
                                usage_limit_reset=reset))
    out.sort(key=lambda r: r.ts)
    return out


def strip_ours(x: Any) -> Any:
    """ccusage's part of one of our reports."""
    if isinstance(x, dict):
        return {k: strip_ours(v) for k, v in x.items() if k not in OURS}
    if isinstance(x, list):
        return [strip_ours(v) for v in x]
    return x


def same_json(a: Any, b: Any) -> bool:
    """Equal as ccusage prints them: same keys in the same order, ints vs floats and -0.0 told apart."""
    if isinstance(a, dict):
        return isinstance(b, dict) and list(a) == list(b) and all(same_json(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(same_json(x, y) for x, y in zip(a, b))
    if isinstance(a, float) or isinstance(b, float):
        return (type(a) is type(b) and (a == b and math.copysign(1, a) == math.copysign(1, b))) or (
            isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b))
    return type(a) is type(b) and a == b


# ---------------------------------------------------------------- ccusage runs

def ccusage_bin() -> str | None:
    return os.environ.get("CCUSAGE_BIN") or shutil.which("ccusage")


def run_ccusage(exe: str, files: dict[str, list[str]], args: list[str], tz: str) -> Any:
    """ccusage over a fixture written to a temp dir; parsed JSON (floats kept exact)."""
    with tempfile.TemporaryDirectory() as root:
        for rel, lines in files.items():
            p = Path(root, rel)
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text("".join(ln + "\n" for ln in lines))
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": root, "CLAUDE_CONFIG_DIR": root, "TZ": tz}
        p = subprocess.run([exe, "claude", *args, "--json", "--offline"], env=env, capture_output=True, text=True,
                           timeout=120, cwd=root)
        assert p.returncode == 0, p.stderr
        return json.loads(p.stdout)


def load_golden(name: str) -> dict[str, Any]:
    return json.loads((GOLDEN / name).read_text())


def golden_names() -> list[str]:
    return sorted(p.name for p in GOLDEN.glob("ccusage_*.json"))


# ---------------------------------------------------------------- golden cases

def _periods_fixture() -> dict[str, list[str]]:
    """Two DST changes in New York, local midnights to the millisecond, synthetic and fast lines.

    File-path order equals time order, so ccusage's file-order sums equal our time-order sums exactly.
    """
    S, O, H = "claude-sonnet-4-20250514", "claude-opus-4-20250514", "claude-haiku-3-5"
    return {
        "projects/-home-u-alpha/s-01.jsonl": [
            jline("2024-03-08T15:00:00.000Z", "s-01", "a01", S, 100, 50, 25, 10, 0.12),
            jline("2024-03-08T16:30:00.000Z", "s-01", "a02", O, 200, 75, 50, 20, 0.34),
            jline("2024-03-10T04:59:59.999Z", "s-01", "a03", S, 10, 5, 0, 0, 0.1),  # 23:59:59.999 EST Mar 9
            jline("2024-03-10T05:00:00.000Z", "s-01", "a04", O, 20, 5, 0, 0, 0.2),  # 00:00 EST Mar 10
            jline("2024-03-10T06:59:59.000Z", "s-01", "a05", "<synthetic>", 3, 4, 0, 0, 0.07),
            jline("2024-03-10T07:00:00.000Z", "s-01", "a06", S, 5, 5, 5, 5, 0.3, speed="fast"),  # 03:00 EDT
        ],
        "projects/-home-u-alpha/s-02.jsonl": [
            jline("2024-03-11T03:59:59.999Z", "s-02", "b01", H, 7, 7, 7, 7, 0.3),  # 23:59 EDT Mar 10
            jline("2024-03-11T04:00:00.000Z", "s-02", "b02", S, 1, 1, 1, 1, 0.3),  # 00:00 EDT Mar 11
            jline("2024-03-11T05:00:00.000Z", "s-02", "b03", O, 1, 2, 3, 4, 0.3),
            jline("2024-03-16T12:00:00.000Z", "s-02", "b04", S, 8, 8, 8, 8, 0.65),
            jline("2024-03-17T12:00:00.000Z", "s-02", "b05", O, 9, 9, 9, 9, 0.79),  # Sunday
            jline("2024-03-18T12:00:00.000Z", "s-02", "b06", S, 9, 9, 9, 9, 0.39),  # Monday
        ],
        "projects/-home-u-beta/s-03.jsonl": [
            jline("2024-11-03T03:59:59.999Z", "s-03", "c01", S, 1000, 10, 0, 0, 0.5),  # 23:59 EDT Nov 2
            jline("2024-11-03T04:00:00.000Z", "s-03", "c02", O, 1000, 10, 0, 0, 0.45),  # 00:00 EDT Nov 3
            jline("2024-11-03T06:30:00.000Z", "s-03", "c03", O, 5, 5, 0, 0, 0.8),  # 01:30 EST (second pass)
            jline("2024-11-04T04:59:59.999Z", "s-03", "c04", H, 5, 5, 0, 0, 0.65),  # 23:59 EST Nov 3
            jline("2024-11-04T05:00:00.000Z", "s-03", "c05", S, 5, 5, 0, 0, 0.0),  # 00:00 EST Nov 4
        ],
        "projects/-home-u-beta/s-04.jsonl": [
            jline("2024-11-05T01:00:00.000Z", "s-04", "d01", "<synthetic>", 0, 0, 0, 0, 0.0),
            jline("2024-11-05T02:00:00.000Z", "s-04", "d02", H, 2, 2, 2, 2, 0.8),
            jline("2024-12-01T02:00:00.000Z", "s-04", "d03", S, 3, 3, 3, 3, 0.39),
        ],
        "projects/-home-u-gamma/s-05.jsonl": [
            jline("2024-12-20T02:00:00.000Z", "s-05", "e01", O, 1, 1, 1, 1, 0.65),
        ],
    }


def _offsets_fixture() -> dict[str, list[str]]:
    """Instants around local midnight in +05:30 and +05:45 (Kolkata, Kathmandu)."""
    S = "claude-sonnet-4-20250514"
    return {
        "projects/-p/s-1.jsonl": [
            jline("2024-05-01T18:14:59.999Z", "s-1", "k1", S, 1, 0, 0, 0, 0.1),  # 23:59:59.999 +05:45
            jline("2024-05-01T18:15:00.000Z", "s-1", "k2", S, 2, 0, 0, 0, 0.2),  # 00:00 +05:45
            jline("2024-05-01T18:29:59.999Z", "s-1", "k3", S, 4, 0, 0, 0, 0.3),  # 23:59:59.999 +05:30
            jline("2024-05-01T18:30:00.000Z", "s-1", "k4", S, 8, 0, 0, 0, 0.4),  # 00:00 +05:30
            jline("2024-05-31T18:20:00.000Z", "s-1", "k5", S, 16, 0, 0, 0, 0.5),  # June 1 in both
        ],
    }


CASES: dict[str, tuple[Any, str, list[list[str]]]] = {
    "ccusage_periods_new_york.json": (_periods_fixture, "America/New_York", [
        ["daily", "--mode", "display"],
        ["daily", "--mode", "display", "--order", "desc"],
        ["daily", "--mode", "display", "--since", "20240310", "--until", "2024-11-03"],
        ["daily", "--mode", "display", "--since", "20990101"],
        ["daily", "--mode", "display", "--project=-home-u-beta"],
        ["daily", "--mode", "display", "--instances"],
        ["daily", "--mode", "display", "--instances", "--order", "desc"],
        ["weekly", "--mode", "display"],
        ["weekly", "--mode", "display", "--start-of-week", "monday", "--order", "desc"],
        ["monthly", "--mode", "display"],
        ["monthly", "--mode", "display", "--order", "desc"],
        ["session", "--mode", "display"],
        ["session", "--mode", "display", "--since", "20241103"],
        ["daily", "--mode", "display", "--timezone", "UTC"],
    ]),
    "ccusage_periods_offsets.json": (_offsets_fixture, "UTC", [
        ["daily", "--mode", "display", "--timezone", "Asia/Kathmandu"],
        ["daily", "--mode", "display", "--timezone", "Asia/Kolkata"],
        ["monthly", "--mode", "display", "--timezone", "Asia/Kolkata"],
        ["daily", "--mode", "display"],
    ]),
}


def _opt(args: list[str], *names: str) -> str | None:
    for i, a in enumerate(args):
        for n in names:
            if a == n:
                return args[i + 1]
            if a.startswith(n + "="):
                return a.split("=", 1)[1]
    return None


def _day(s: str | None) -> date | None:
    from meshd.core.periods import parse_date_arg

    return None if s is None else parse_date_arg(s)


def ours_for(args: list[str], rows: list[UsageRow], env_tz: str) -> dict[str, Any]:
    """Our report for a ccusage argument list (period commands)."""
    tz = resolve_tz(_opt(args, "--timezone", "-z") or env_tz)
    kw: dict[str, Any] = {"tz": tz, "since": _day(_opt(args, "--since", "-s")),
                          "until": _day(_opt(args, "--until", "-u")), "order": _opt(args, "--order", "-o") or "asc"}
    cmd = args[0]
    if cmd == "daily" and "--instances" in args:
        return reports.projects(rows, **kw)
    if cmd == "daily":
        return reports.daily(rows, project=_opt(args, "--project", "-p"), **kw)
    if cmd == "weekly":
        return reports.weekly(rows, start_of_week=_opt(args, "--start-of-week", "-w") or "sunday", **kw)
    if cmd == "session":
        return reports.session(rows, **kw)
    return getattr(reports, cmd)(rows, **kw)


def regenerate(exe: str) -> None:
    """Write every golden from the real ccusage (period cases here, block cases in test_blocks)."""
    from tests.test_blocks import BLOCK_CASES

    GOLDEN.mkdir(exist_ok=True)
    for name, (fixture, tz, runs) in {**CASES, **BLOCK_CASES}.items():
        files = fixture()
        data = {"ccusage": "20.0.24", "tz": tz, "files": files,
                "runs": [{"args": a, "output": run_ccusage(exe, files, a, tz)} for a in runs]}
        (GOLDEN / name).write_text(json.dumps(data, indent=1) + "\n")
        print("wrote", name)


# ---------------------------------------------------------------- golden tests

@pytest.mark.parametrize("name", sorted(CASES))
def test_periods_equal_ccusage_golden(name: str) -> None:
    g = load_golden(name)
    rows = rows_from_files(g["files"])
    for run in g["runs"]:
        mine = ours_for(run["args"], rows, g["tz"])
        assert same_json(strip_ours(mine), run["output"]), (run["args"], strip_ours(mine), run["output"])


def test_goldens_match_their_fixtures() -> None:
    """A golden's fixture is what the code in CASES writes now (so a regenerate is a no-op)."""
    from tests.test_blocks import BLOCK_CASES

    for name, (fixture, tz, runs) in {**CASES, **BLOCK_CASES}.items():
        g = load_golden(name)
        assert g["files"] == fixture() and g["tz"] == tz and [r["args"] for r in g["runs"]] == runs, name


@pytest.mark.ccusage
@pytest.mark.parametrize("name", golden_names())
def test_goldens_still_match_ccusage(name: str) -> None:
    exe = ccusage_bin()
    if exe is None:
        pytest.skip("ccusage not installed (set CCUSAGE_BIN or `npm install ccusage@20.0.24`)")
    g = load_golden(name)
    for run in g["runs"]:
        assert same_json(run_ccusage(exe, g["files"], run["args"], g["tz"]), run["output"]), run["args"]


# ---------------------------------------------------------------- unit tests

def row(ts: int, device: str = "laptop", model: str = "claude-sonnet-4", cost: float = 1.0, i: int = 10,
        o: int = 5, cc: int = 0, cr: int = 0, project: str = "-p", session: str = "s", provider: str = "claude",
        count: int = 1, ts_last: int = -1) -> UsageRow:
    return UsageRow(ts, device, provider, model, project, session, i, o, cc, cr, cost, count=count,
                    ts_last=ts_last)


UTC = resolve_tz("UTC")
T0 = parse_ts("2024-05-01T10:00:00.000Z")
DAY = 86_400_000


def test_empty_reports_have_ccusage_shape() -> None:
    for fn, name in ((reports.daily, "daily"), (reports.weekly, "weekly"), (reports.monthly, "monthly"),
                     (reports.session, "sessions")):
        out = fn([], tz=UTC)
        assert out[name] == []
        assert same_json(strip_ours(out["totals"]), {"cacheCreationTokens": 0, "cacheReadTokens": 0, "inputTokens": 0,
                                         "outputTokens": 0, "totalCost": -0.0, "totalTokens": 0})
    assert list(reports.projects([], tz=UTC)) == ["daily", "totals"]


def test_synthetic_and_empty_model_count_but_are_no_model() -> None:
    rows = [row(T0, model="<synthetic>", i=3, cost=0.5), row(T0 + 1, model="", i=4, cost=0.25),
            row(T0 + 2, model="m", i=1, cost=1.0)]
    d = reports.daily(rows, tz=UTC)["daily"][0]
    assert d["inputTokens"] == 8 and d["totalCost"] == 1.75
    assert d["modelsUsed"] == ["m"] and [b["modelName"] for b in d["modelBreakdowns"]] == ["m"]


def test_breakdowns_sorted_by_cost_stably_and_models_in_first_use_order() -> None:
    rows = [row(T0, model="z", cost=0.1), row(T0 + 1, model="y", cost=0.3), row(T0 + 2, model="x", cost=0.3),
            row(T0 + 3, model="z", cost=0.1)]
    d = reports.daily(rows, tz=UTC)["daily"][0]
    assert d["modelsUsed"] == ["z", "y", "x"]
    assert [b["modelName"] for b in d["modelBreakdowns"]] == ["y", "x", "z"]


def test_monthly_is_built_from_daily_rows_in_output_order() -> None:
    # costs chosen so float sums differ by grouping and order, as in ccusage
    rows = [row(T0, model="b", cost=0.25), row(T0 + 1, model="a", cost=0.5), row(T0 + DAY, model="b", cost=0.25)]
    asc = reports.monthly(rows, tz=UTC)["monthly"][0]
    desc = reports.monthly(rows, tz=UTC, order="desc")["monthly"][0]
    assert asc["modelsUsed"] == ["b", "a"] and [b["modelName"] for b in asc["modelBreakdowns"]] == ["a", "b"]
    assert desc["modelsUsed"] == ["b", "a"] and [b["modelName"] for b in desc["modelBreakdowns"]] == ["b", "a"]
    rows = [row(T0, cost=0.5), row(T0 + 1, cost=0.45), row(T0 + DAY, cost=0.65), row(T0 + DAY + 1, cost=0.79)]
    assert reports.monthly(rows, tz=UTC)["monthly"][0]["totalCost"] == (0.5 + 0.45) + (0.65 + 0.79)


def test_totals_sum_rows_in_output_order() -> None:
    rows = [row(T0, cost=0.39), row(T0 + DAY, cost=0.65), row(T0 + 2 * DAY, cost=0.8)]
    assert reports.daily(rows, tz=UTC)["totals"]["totalCost"] == 1.84
    assert reports.daily(rows, tz=UTC, order="desc")["totals"]["totalCost"] == 1.8400000000000003


def test_sessions_by_cost_then_project_and_id_ignoring_order() -> None:
    rows = [row(T0, session="z", cost=0.5), row(T0 + 1, session="b", cost=0.5), row(T0 + 2, session="a",
            project="-q", cost=0.5), row(T0 + 3, session="big", cost=2.0), row(T0 + 4, session="z", project="-q",
            cost=0.1)]
    for order in ("asc", "desc"):
        out = reports.session(rows, tz=UTC, order=order)["sessions"]
        assert [(s["projectPath"], s["sessionId"]) for s in out] == [
            ("-p", "big"), ("-p", "b"), ("-p", "z"), ("-q", "a"), ("-q", "z")]
    s = out[0]
    assert list(s) == sorted(s) and s["firstActivity"] == "2024-05-01T10:00:00.003Z"


def test_session_first_and_last_activity_use_bucket_bounds() -> None:
    rows = [row(T0, count=3, ts_last=T0 + 59_000), row(T0 + 120_000)]
    s = reports.session(rows, tz=UTC)["sessions"][0]
    assert (s["firstActivity"], s["lastActivity"]) == ("2024-05-01T10:00:00.000Z", "2024-05-01T10:02:00.000Z")


def test_devices_per_row_sum_to_the_row() -> None:
    rows = [row(T0 + k * 3_600_000, device=DEVICES[k % 3], cost=0.1 * k, i=k, cr=2 * k) for k in range(30)]
    for rep, key in ((reports.daily(rows, tz=UTC), "daily"), (reports.monthly(rows, tz=UTC), "monthly"),
                     (reports.weekly(rows, tz=UTC), "weekly")):
        for r in rep[key]:
            devs = r["devices"]
            for f in ("inputTokens", "outputTokens", "cacheCreationTokens", "cacheReadTokens", "totalTokens"):
                assert sum(d[f] for d in devs) == r[f]
            assert math.isclose(sum(d["totalCost"] for d in devs), r["totalCost"], abs_tol=1e-9)
            assert [d["totalCost"] for d in devs] == sorted((d["totalCost"] for d in devs), reverse=True)


def test_filters_device_provider_project() -> None:
    rows = [row(T0, device="a"), row(T0 + 1, device="b", provider="codex", project="-x"), row(T0 + 2, device="b")]
    assert reports.daily(rows, tz=UTC, device="b")["totals"]["totalTokens"] == 30
    assert reports.daily(rows, tz=UTC, provider="claude")["totals"]["totalTokens"] == 30
    d = reports.daily(rows, tz=UTC, project="-x")
    assert d["totals"]["totalTokens"] == 15 and d["daily"][0]["project"] == "-x"
    assert list(d["daily"][0]) == sorted(d["daily"][0])


def test_since_until_inclusive_on_local_dates() -> None:
    tz = resolve_tz("Asia/Kathmandu")
    rows = [row(parse_ts("2024-05-01T18:14:59.999Z")), row(parse_ts("2024-05-01T18:15:00.000Z"))]
    assert [d["date"] for d in reports.daily(rows, tz=tz)["daily"]] == ["2024-05-01", "2024-05-02"]
    one = reports.daily(rows, tz=tz, since=date(2024, 5, 2), until=date(2024, 5, 2))["daily"]
    assert [d["date"] for d in one] == ["2024-05-02"]
    assert reports.daily(rows, tz=tz, since=date(2024, 5, 3))["daily"] == []


def test_weekly_start_of_week() -> None:
    sunday, monday = parse_ts("2024-03-17T12:00:00Z"), parse_ts("2024-03-18T12:00:00Z")
    rows = [row(sunday), row(monday)]
    assert [w["week"] for w in reports.weekly(rows, tz=UTC)["weekly"]] == ["2024-03-17"]
    assert [w["week"] for w in reports.weekly(rows, tz=UTC, start_of_week="monday")["weekly"]] == [
        "2024-03-11", "2024-03-18"]


def test_key_order_is_ccusages() -> None:
    out = reports.daily([row(T0)], tz=UTC)
    assert list(out) == ["daily", "totals"]
    r = out["daily"][0]
    assert list(r) == sorted(r)
    assert list(r["modelBreakdowns"][0]) == sorted(r["modelBreakdowns"][0])
    assert list(reports.weekly([row(T0)], tz=UTC)) == ["totals", "weekly"]  # ccusage prints keys sorted


def test_many_rows_are_fast_enough() -> None:
    """A smoke check, not a benchmark: 200k rows well under a few seconds."""
    import time

    rows = [row(T0 + k * 37_000, device=DEVICES[k % 3], model=("a", "b", "<synthetic>")[k % 3], cost=0.001)
            for k in range(200_000)]
    t = time.perf_counter()
    reports.daily(rows, tz=resolve_tz("America/New_York"))
    assert time.perf_counter() - t < 5


if __name__ == "__main__":
    if "--regen" in sys.argv:
        exe = ccusage_bin()
        if exe is None:
            sys.exit("ccusage not found: set CCUSAGE_BIN")
        regenerate(exe)
