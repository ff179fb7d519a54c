"""Parity with ccusage 20.0.24 on a generated history over three folders (tokens exact, cost 0.5 %)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.histgen import generate

pytestmark = pytest.mark.ccusage


def ccusage_bin() -> str | None:
    return os.environ.get("CCUSAGE_BIN") or shutil.which("ccusage")


def run(argv: list[str], env: dict[str, str]) -> dict:
    p = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


TOKENS = ("inputTokens", "outputTokens", "cacheCreationTokens", "cacheReadTokens", "totalTokens")


def close(a: float, b: float) -> bool:
    return abs(a - b) <= 0.005 * max(abs(a), abs(b)) + 1e-9


def compare_periods(mine: dict, theirs: dict, list_name: str, key: str) -> None:
    a = {r[key]: r for r in mine[list_name]}
    b = {r[key]: r for r in theirs[list_name]}
    assert a.keys() == b.keys()
    for k in a:
        for f in TOKENS:
            assert a[k][f] == b[k][f], (k, f)
        assert close(a[k]["totalCost"], b[k]["totalCost"]), (k, a[k]["totalCost"], b[k]["totalCost"])
        # the same models (ccusage's list order follows its internal processing order)
        assert sorted(a[k]["modelsUsed"]) == sorted(b[k]["modelsUsed"]), k
    for f in TOKENS:
        assert mine["totals"][f] == theirs["totals"][f], f
    assert close(mine["totals"]["totalCost"], theirs["totals"]["totalCost"])


def compare_blocks(mine: dict, theirs: dict) -> None:
    a = {b["id"]: b for b in mine["blocks"] if not b["isActive"]}
    b = {b["id"]: b for b in theirs["blocks"] if not b["isActive"]}
    assert a.keys() == b.keys()
    for k in a:
        assert a[k]["tokenCounts"] == b[k]["tokenCounts"], k
        assert a[k]["entries"] == b[k]["entries"], k
        assert (a[k]["endTime"], a[k]["actualEndTime"]) == (b[k]["endTime"], b[k]["actualEndTime"]), k
        assert close(a[k]["costUSD"], b[k]["costUSD"]), k


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return generate(tmp_path_factory.mktemp("hist"), folders=3, sessions=14, lines=150, seed=5)


@pytest.mark.parametrize("tz_env,tz_opt", [("America/New_York", None), ("UTC", "Asia/Kolkata")])
def test_daily_monthly_blocks_equal_ccusage(history: list[Path], tmp_path: Path, tz_env: str, tz_opt: str | None):
    exe = ccusage_bin()
    if exe is None:
        pytest.skip("ccusage 20.0.24 not installed (set CCUSAGE_BIN; .ci/run installs it with npm)")
    env = dict(os.environ, CLAUDE_CONFIG_DIR=",".join(map(str, history)), TZ=tz_env, MESHD_HOME=str(tmp_path / "home"))
    tzargs = ["--timezone", tz_opt] if tz_opt else []
    for cmd, list_name, key in (("daily", "daily", "date"), ("monthly", "monthly", "month")):
        theirs = run([exe, "claude", cmd, "--json", "--offline", *tzargs], env)
        mine = run([sys.executable, "-m", "meshctl", cmd, "--json", *tzargs], env)
        compare_periods(mine, theirs, list_name, key)
    compare_blocks(run([sys.executable, "-m", "meshctl", "blocks", "--json", *tzargs], env),
                   run([exe, "claude", "blocks", "--json", "--offline", *tzargs], env))


def test_the_comparison_can_fail() -> None:
    """The comparer is not vacuous: a perturbed copy fails it."""
    row = {"date": "2026-01-01", "inputTokens": 1, "outputTokens": 2, "cacheCreationTokens": 3, "cacheReadTokens": 4,
           "totalTokens": 10, "totalCost": 1.0, "modelsUsed": ["m"]}
    base = {"daily": [row], "totals": {k: row[k] for k in (*TOKENS, "totalCost")}}
    compare_periods(base, json.loads(json.dumps(base)), "daily", "date")
    bad = json.loads(json.dumps(base))
    bad["daily"][0]["outputTokens"] = 3
    with pytest.raises(AssertionError):
        compare_periods(bad, base, "daily", "date")
    bad = json.loads(json.dumps(base))
    bad["totals"]["totalCost"] = 1.01
    with pytest.raises(AssertionError):
        compare_periods(bad, base, "daily", "date")
