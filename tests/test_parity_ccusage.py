"""Parity of meshctl with ccusage 20.0.24 on a generated three-folder history (tokens exact, cost 0.5 %)."""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from tests.histgen import GeneratedHistory, generate

pytestmark = pytest.mark.ccusage

PERIOD_TOKENS = ("inputTokens", "outputTokens", "cacheCreationTokens", "cacheReadTokens", "totalTokens")
BREAKDOWN_TOKENS = ("inputTokens", "outputTokens", "cacheCreationTokens", "cacheReadTokens")
BLOCK_TOKENS = ("inputTokens", "outputTokens", "cacheCreationInputTokens", "cacheReadInputTokens")
REPORTS = (("daily", "daily", "date"), ("monthly", "monthly", "month"))
# (TZ in the environment, --timezone option)
ZONES = [("America/New_York", None), ("UTC", "Asia/Kolkata")]
COST_TOLERANCE = 0.005


def ccusage_bin() -> str | None:
    """The ccusage executable: $CCUSAGE_BIN, else `ccusage` on PATH."""
    return os.environ.get("CCUSAGE_BIN") or shutil.which("ccusage")


def run_json(argv: list[str], env: dict[str, str], cwd: Path) -> dict[str, Any]:
    """Run a report command and parse its JSON stdout; fail with its stderr."""
    p = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, f"{argv[:4]} exited {p.returncode}: {p.stderr.strip()[-2000:]}"
    return json.loads(p.stdout)


def cost_close(a: float, b: float) -> bool:
    """Costs agree within 0.5 % (of the larger), with a tiny absolute floor for zero costs."""
    return abs(a - b) <= COST_TOLERANCE * max(abs(a), abs(b)) + 1e-9


def compare_periods(mine: dict, theirs: dict, list_name: str, key: str) -> None:
    """Same periods; per period and in totals every token field equal and cost within 0.5 %."""
    a = {r[key]: r for r in mine[list_name]}
    b = {r[key]: r for r in theirs[list_name]}
    assert sorted(a) == sorted(b), f"{list_name}: periods differ: only mine {sorted(a.keys() - b.keys())}, only ccusage {sorted(b.keys() - a.keys())}"
    for k in sorted(a):
        for f in PERIOD_TOKENS:
            assert a[k][f] == b[k][f], f"{list_name} {k} {f}: meshctl {a[k][f]} != ccusage {b[k][f]}"
        assert cost_close(a[k]["totalCost"], b[k]["totalCost"]), f"{list_name} {k} cost: {a[k]['totalCost']} vs {b[k]['totalCost']}"
        assert sorted(a[k]["modelsUsed"]) == sorted(b[k]["modelsUsed"]), f"{list_name} {k} modelsUsed"
        ma = {m["modelName"]: m for m in a[k]["modelBreakdowns"]}
        mb = {m["modelName"]: m for m in b[k]["modelBreakdowns"]}
        assert sorted(ma) == sorted(mb), f"{list_name} {k} breakdown models"
        for m in ma:
            for f in BREAKDOWN_TOKENS:
                assert ma[m][f] == mb[m][f], f"{list_name} {k} {m} {f}: {ma[m][f]} != {mb[m][f]}"
            assert cost_close(ma[m]["cost"], mb[m]["cost"]), f"{list_name} {k} {m} cost: {ma[m]['cost']} vs {mb[m]['cost']}"
    for f in PERIOD_TOKENS:
        assert mine["totals"][f] == theirs["totals"][f], f"{list_name} totals {f}: {mine['totals'][f]} != {theirs['totals'][f]}"
    assert cost_close(mine["totals"]["totalCost"], theirs["totals"]["totalCost"]), f"{list_name} totals cost"


def compare_blocks(mine: dict, theirs: dict) -> None:
    """Same non-active blocks (gap blocks included) by id, with equal tokens and cost within 0.5 %."""
    active = {b["id"] for b in mine["blocks"] + theirs["blocks"] if b.get("isActive")}
    a = {b["id"]: b for b in mine["blocks"] if b["id"] not in active}
    b = {b["id"]: b for b in theirs["blocks"] if b["id"] not in active}
    assert sorted(a) == sorted(b), f"blocks differ: only mine {sorted(a.keys() - b.keys())}, only ccusage {sorted(b.keys() - a.keys())}"
    for k in sorted(a):
        assert bool(a[k]["isGap"]) == bool(b[k]["isGap"]), f"block {k} isGap"
        for f in BLOCK_TOKENS:
            assert a[k]["tokenCounts"][f] == b[k]["tokenCounts"][f], f"block {k} {f}: {a[k]['tokenCounts'][f]} != {b[k]['tokenCounts'][f]}"
        assert a[k]["totalTokens"] == b[k]["totalTokens"], f"block {k} totalTokens"
        assert cost_close(a[k]["costUSD"], b[k]["costUSD"]), f"block {k} cost: {a[k]['costUSD']} vs {b[k]['costUSD']}"


def report_env(history: GeneratedHistory, tmp: Path, tz: str) -> dict[str, str]:
    """Environment for both tools: the three folders, the zone, a private HOME and MESHD_HOME."""
    env = dict(os.environ, CLAUDE_CONFIG_DIR=history.claude_config_dir, TZ=tz,
               HOME=str(tmp / "home"), MESHD_HOME=str(tmp / "meshd-home"))
    (tmp / "home").mkdir(exist_ok=True)
    return env


def ccusage_reports(exe: str, env: dict[str, str], cwd: Path, tzopt: str | None) -> dict[str, dict]:
    """ccusage's daily, monthly and blocks JSON."""
    tz = ["--timezone", tzopt] if tzopt else []
    return {cmd: run_json([exe, "claude", cmd, "--json", "--offline", *tz], env, cwd) for cmd in ("daily", "monthly", "blocks")}


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> GeneratedHistory:
    """A ~MESHD_PARITY_MB (default 5) MB history in three folders, some sessions in two of them."""
    mb = float(os.environ.get("MESHD_PARITY_MB", "5"))
    h = generate(tmp_path_factory.mktemp("hist"), folders=3, target_bytes=int(mb * (1 << 20)), seed=20240,
                 start=datetime(2026, 2, 20, 3, 0, tzinfo=timezone.utc), days=45)
    assert h.shared, "the history must contain sessions copied into two folders"
    return h


@pytest.fixture(scope="module")
def ccusage_exe() -> str:
    """The ccusage binary, or skip."""
    exe = ccusage_bin()
    if exe is None:
        pytest.skip("ccusage 20.0.24 not found: set CCUSAGE_BIN (npm install ccusage@20.0.24) or put ccusage on PATH")
    return exe


@pytest.mark.parametrize("tz_env,tz_opt", ZONES, ids=["TZ=America/New_York", "--timezone=Asia/Kolkata"])
def test_daily_monthly_blocks_equal_ccusage(history: GeneratedHistory, ccusage_exe: str, tmp_path: Path,
                                            tz_env: str, tz_opt: str | None) -> None:
    """meshctl daily/monthly/blocks --json equal ccusage's over the merged folders."""
    env = report_env(history, tmp_path, tz_env)
    theirs = ccusage_reports(ccusage_exe, env, tmp_path, tz_opt)
    assert theirs["daily"]["daily"] and any(b["isGap"] for b in theirs["blocks"]["blocks"])
    tz = ["--timezone", tz_opt] if tz_opt else []
    for cmd, list_name, key in REPORTS:
        mine = run_json([sys.executable, "-m", "meshctl", cmd, "--json", *tz], env, tmp_path)
        compare_periods(mine, theirs[cmd], list_name, key)
    mine = run_json([sys.executable, "-m", "meshctl", "blocks", "--json", *tz], env, tmp_path)
    compare_blocks(mine, theirs["blocks"])


def _perturbations(reports: dict[str, dict]) -> list[tuple[str, str, dict]]:
    """Copies of ccusage's output, each wrong in one way the comparers must catch."""
    out: list[tuple[str, str, dict]] = []

    def mutated(cmd: str, what: str, fn: Any) -> None:
        d = copy.deepcopy(reports[cmd])
        fn(d)
        out.append((cmd, what, d))

    mutated("daily", "one output token", lambda d: d["daily"][0].__setitem__("outputTokens", d["daily"][0]["outputTokens"] + 1))
    mutated("daily", "cost +1 %", lambda d: d["daily"][-1].__setitem__("totalCost", d["daily"][-1]["totalCost"] * 1.01 + 1e-6))
    mutated("daily", "a missing day", lambda d: d["daily"].pop())
    mutated("daily", "a breakdown token", lambda d: d["daily"][0]["modelBreakdowns"][0].__setitem__(
        "cacheReadTokens", d["daily"][0]["modelBreakdowns"][0]["cacheReadTokens"] + 1))
    mutated("daily", "totals cache creation", lambda d: d["totals"].__setitem__("cacheCreationTokens", d["totals"]["cacheCreationTokens"] - 1))
    mutated("monthly", "a renamed month", lambda d: d["monthly"][0].__setitem__("month", "1999-01"))
    mutated("monthly", "an extra model", lambda d: d["monthly"][0]["modelsUsed"].append("claude-x"))
    mutated("blocks", "a dropped gap block", lambda d: d["blocks"].remove(next(b for b in d["blocks"] if b["isGap"])))
    mutated("blocks", "a block token", lambda d: next(b for b in d["blocks"] if not b["isGap"])["tokenCounts"].__setitem__(
        "inputTokens", next(b for b in d["blocks"] if not b["isGap"])["tokenCounts"]["inputTokens"] + 1))
    mutated("blocks", "block cost +1 %", lambda d: next(b for b in d["blocks"] if not b["isGap"]).__setitem__(
        "costUSD", next(b for b in d["blocks"] if not b["isGap"])["costUSD"] * 1.01 + 1e-6))
    return out


def _compare(cmd: str, mine: dict, theirs: dict) -> None:
    if cmd == "blocks":
        compare_blocks(mine, theirs)
    else:
        compare_periods(mine, theirs, cmd, "date" if cmd == "daily" else "month")


def test_comparers_on_ccusage_output(history: GeneratedHistory, ccusage_exe: str, tmp_path: Path) -> None:
    """Self-check: ccusage equals itself (twice, both zones) and every perturbed copy is caught."""
    for tz_env, tz_opt in ZONES:
        env = report_env(history, tmp_path, tz_env)
        first = ccusage_reports(ccusage_exe, env, tmp_path, tz_opt)
        second = ccusage_reports(ccusage_exe, env, tmp_path, tz_opt)
        for cmd in first:
            _compare(cmd, second[cmd], first[cmd])
        for cmd, what, bad in _perturbations(first):
            with pytest.raises(AssertionError):
                _compare(cmd, bad, first[cmd])
                pytest.fail(f"comparer missed: {cmd} {what}")


def test_comparers_without_ccusage() -> None:
    """The period comparer accepts an equal copy and rejects a token or cost change (no ccusage needed)."""
    row = {"date": "2026-01-01", "inputTokens": 1, "outputTokens": 2, "cacheCreationTokens": 3, "cacheReadTokens": 4,
           "totalTokens": 10, "totalCost": 1.0, "modelsUsed": ["m"],
           "modelBreakdowns": [{"modelName": "m", "inputTokens": 1, "outputTokens": 2, "cacheCreationTokens": 3,
                                "cacheReadTokens": 4, "cost": 1.0}]}
    base = {"daily": [row], "totals": {k: row[k] for k in (*PERIOD_TOKENS, "totalCost")}}
    compare_periods(copy.deepcopy(base), base, "daily", "date")
    near = copy.deepcopy(base)
    near["daily"][0]["totalCost"] = near["totals"]["totalCost"] = near["daily"][0]["modelBreakdowns"][0]["cost"] = 1.004
    compare_periods(near, base, "daily", "date")
    for path, value in ((("daily", 0, "outputTokens"), 3), (("totals", "totalCost"), 1.01)):
        bad = copy.deepcopy(base)
        target = bad
        for p in path[:-1]:
            target = target[p]
        target[path[-1]] = value
        with pytest.raises(AssertionError):
            compare_periods(bad, base, "daily", "date")
