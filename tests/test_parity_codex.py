"""Parity of meshctl's Codex reports with `ccusage codex daily|monthly --json --offline` (20.0.24)
on a generated Codex history: every period, tokens exact, cost within 0.5 %."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from tests.codexgen import CodexHistory, generate
from tests.test_parity_ccusage import cost_close, run_json
from tests.test_parity_ccusage import ccusage_exe  # noqa: F401  (fixture: the binary, or skip)

pytestmark = pytest.mark.ccusage

# ccusage codex field -> meshctl field (ours is Claude-shaped: cached input is a cache read)
FIELDS = {"inputTokens": "inputTokens", "cacheReadTokens": "cacheReadTokens",
          "cacheCreationTokens": "cacheCreationTokens", "outputTokens": "outputTokens", "totalTokens": "totalTokens",
          "reasoningOutputTokens": "reasoningOutputTokens"}


@pytest.fixture(scope="module")
def codex_history(tmp_path_factory: pytest.TempPathFactory) -> CodexHistory:
    h = generate(tmp_path_factory.mktemp("codex") / "codex-home", sessions=int(os.environ.get("MESHD_CODEX_SESSIONS", "60")),
                 seed=20251)
    assert h.archived and h.partial_files and h.forked and h.subagents and h.fallback_sessions and h.garbage_lines
    return h


@pytest.fixture(scope="module")
def fast_history(tmp_path_factory: pytest.TempPathFactory) -> CodexHistory:
    """A smaller history whose Codex config selects the fast service tier (gpt-5.4 etc. cost 2x)."""
    h = generate(tmp_path_factory.mktemp("codex-fast") / "codex-home", sessions=20, seed=77)
    (h.home / "config.toml").write_text('model = "gpt-5.4"\nservice_tier = "fast"  # Codex fast mode\n')
    return h


@pytest.mark.parametrize("tz_env,tz_opt", [("UTC", None), ("America/New_York", None), ("UTC", "Asia/Kolkata")])
@pytest.mark.parametrize("cmd,key", [("daily", "date"), ("monthly", "month")])
def test_codex_reports_equal_ccusage(codex_history: CodexHistory, ccusage_exe: str, tmp_path: Path,  # noqa: F811
                                     cmd: str, key: str, tz_env: str, tz_opt: str | None) -> None:
    compare(codex_history, ccusage_exe, tmp_path, cmd, key, tz_env, tz_opt)


@pytest.mark.parametrize("cmd,key", [("daily", "date"), ("monthly", "month")])
def test_fast_service_tier_equals_ccusage(fast_history: CodexHistory, ccusage_exe: str, tmp_path: Path,  # noqa: F811
                                          cmd: str, key: str) -> None:
    compare(fast_history, ccusage_exe, tmp_path, cmd, key, "UTC", None)


def compare(codex_history: CodexHistory, ccusage_exe: str, tmp_path: Path, cmd: str, key: str, tz_env: str,
            tz_opt: str | None) -> None:
    """meshctl CMD --provider codex --json against ccusage codex CMD --json --offline."""
    (tmp_path / "home").mkdir()
    env = {k: v for k, v in os.environ.items() if k != "CLAUDE_CONFIG_DIR"}
    env.update(HOME=str(tmp_path / "home"), TZ=tz_env, CODEX_HOME=str(codex_history.home),
               MESHD_HOME=str(tmp_path / "meshd-home"))
    tz = ["--timezone", tz_opt] if tz_opt else []
    theirs = run_json([ccusage_exe, "codex", cmd, "--json", "--offline", *tz], env, tmp_path)
    mine = run_json([sys.executable, "-m", "meshctl", cmd, "--json", "--provider", "codex", *tz], env, tmp_path)
    a = {r[key]: r for r in mine[cmd]}
    b = {r[key]: r for r in theirs[cmd]}
    assert len(b) >= (1 if cmd == "monthly" else 10) and sorted(a) == sorted(b)
    for k in sorted(b):
        for theirs_f, mine_f in FIELDS.items():
            assert a[k][mine_f] == b[k][theirs_f], f"{cmd} {k} {theirs_f}: meshctl {a[k][mine_f]} != ccusage {b[k][theirs_f]}"
        assert cost_close(a[k]["totalCost"], b[k]["costUSD"]), f"{cmd} {k} cost {a[k]['totalCost']} vs {b[k]['costUSD']}"
        ma = {m["modelName"]: m for m in a[k]["modelBreakdowns"]}
        assert sorted(ma) == sorted(b[k]["models"]), f"{cmd} {k} models"
        for name, m in b[k]["models"].items():
            for theirs_f, mine_f in FIELDS.items():
                if theirs_f not in ("totalTokens", "reasoningOutputTokens"):
                    assert ma[name][mine_f] == m[theirs_f], f"{cmd} {k} {name} {theirs_f}"
        assert {p["provider"] for p in a[k]["providers"]} == {"codex"}
    for theirs_f, mine_f in FIELDS.items():
        assert mine["totals"][mine_f] == theirs["totals"][theirs_f], f"{cmd} totals {theirs_f}"
    assert cost_close(mine["totals"]["totalCost"], theirs["totals"]["costUSD"])
