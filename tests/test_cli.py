"""meshctl's arguments: bad values exit non-zero with one line on stderr, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

LINE = ('{"timestamp":"2026-01-09T10:00:00.000Z","sessionId":"s","message":{"id":"m1","model":'
        '"claude-sonnet-4-5","usage":{"input_tokens":100,"output_tokens":50}},"requestId":"r1","version":"1.0.0"}\n')


@pytest.fixture()
def env(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "claude" / "projects" / "p").mkdir(parents=True)
    (tmp_path / "claude" / "projects" / "p" / "s.jsonl").write_text(LINE)
    return dict(os.environ, MESHD_HOME=str(tmp_path / "home"), CLAUDE_CONFIG_DIR=str(tmp_path / "claude"), TZ="UTC")


def run(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "meshctl", *argv], env=env, capture_output=True, text=True,
                          timeout=60)


@pytest.mark.parametrize(
    "argv",
    [
        ["daily", "--since", "2026-13-01"],
        ["daily", "--until", "yesterday"],
        ["daily", "--since", "9" * 5000],
        ["monthly", "--timezone", "Mars/Olympus"],
        ["weekly", "--timezone", "../../etc/passwd"],
        ["blocks", "--token-limit", "lots"],
        ["blocks", "--token-limit", "9" * 40],
        ["blocks", "--session-length", "0"],
        ["blocks", "--session-length", "-3"],
        ["blocks", "--session-length", "nan"],
        ["daily", "--device", "no-such-machine"],
        ["daily", "--mode", "free"],
        ["pricing", "--load", "/nonexistent/prices.json"],
    ],
)
def test_bad_arguments_fail_cleanly(env: dict[str, str], argv: list[str]) -> None:
    p = run(env, *argv)
    assert p.returncode != 0
    assert "Traceback" not in p.stderr
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert lines, "a reason on stderr"
    assert len(lines) <= 4  # click usage errors print usage + error; ours print one line


def test_no_sources_is_a_clear_error(tmp_path: Path) -> None:
    env = dict(os.environ, MESHD_HOME=str(tmp_path / "home"), CLAUDE_CONFIG_DIR=str(tmp_path / "nothing"))
    p = run(env, "daily", "--json")
    assert p.returncode == 1
    assert p.stderr.startswith("meshctl: error: no valid Claude data folder")


def test_json_reports_parse_and_carry_devices(env: dict[str, str]) -> None:
    d = json.loads(run(env, "daily", "--json").stdout)
    assert d["totals"]["totalTokens"] == 150
    assert d["daily"][0]["devices"][0]["totalTokens"] == 150
    s = json.loads(run(env, "status", "--json").stdout)
    assert s["sources"][0]["entries"] == 1 and s["sources"][0]["skippedLines"] == 0


def test_broken_pipe_is_not_an_error(env: dict[str, str]) -> None:
    p = subprocess.run(f"{sys.executable} -m meshctl pricing | head -1", shell=True, env=env,
                       capture_output=True, text=True, timeout=60)
    assert "Traceback" not in p.stderr


def test_status_without_daemon_says_so(env: dict[str, str]) -> None:
    s = json.loads(run(env, "status", "--json").stdout)
    assert s["daemon"] is False and s["peers"] is None
    assert "daemon not running" in run(env, "status").stdout
