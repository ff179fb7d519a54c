"""`meshctl projects`: per-project totals with session's rules (core and CLI), and bad arguments."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, timezone
from pathlib import Path

import pytest

from meshd.core import reports
from meshd.core.entry import UsageRow
from meshd.errors import ConfigError
from tests.apikit import line, write_lines

TOK = ("inputTokens", "outputTokens", "cacheCreationTokens", "cacheReadTokens", "totalTokens")
DAY = 86_400_000
T0 = 1_773_000_000_000  # 2026-03-08


def _rows() -> list[UsageRow]:
    out = []
    for i in range(60):
        p = f"-home-u-p{i % 3}"
        out.append(UsageRow(T0 + i * 3_600_000, "dev-a" if i % 2 else "dev-b", "claude",
                            ["claude-sonnet-4-5", "claude-opus-4-1", "<synthetic>"][i % 3], p, f"{p}-s{i % 5}",
                            100 + i, 10 + i, i, 1000, 0.01 * (i % 7)))
    return sorted(out, key=lambda r: r.ts)


def test_projects_sum_their_sessions() -> None:
    rows = _rows()
    got = reports.project_totals(rows, tz=timezone.utc)
    sess = reports.session(rows, tz=timezone.utc)
    assert {p["project"] for p in got["projects"]} == {"-home-u-p0", "-home-u-p1", "-home-u-p2"}
    for p in got["projects"]:
        mine = [s for s in sess["sessions"] if s["projectPath"] == p["project"]]
        assert p["sessions"] == len(mine)
        for k in TOK:
            assert p[k] == sum(s[k] for s in mine)
        assert p["totalCost"] == pytest.approx(sum(s["totalCost"] for s in mine))
        assert p["firstActivity"] == min(s["firstActivity"] for s in mine)
        assert p["lastActivity"] == max(s["lastActivity"] for s in mine)
        assert sum(d["totalTokens"] for d in p["devices"]) == p["totalTokens"]
        assert "<synthetic>" not in p["modelsUsed"]
    for k in TOK:
        assert got["totals"][k] == sess["totals"][k]
    costs = [p["totalCost"] for p in got["projects"]]
    assert costs == sorted(costs, reverse=True)
    asc = reports.project_totals(rows, tz=timezone.utc, order="asc")
    assert asc["projects"] == list(reversed(got["projects"]))


def test_projects_date_range_and_empty() -> None:
    rows = _rows()
    one = reports.project_totals(rows, tz=timezone.utc, since=date(2026, 3, 9), until=date(2026, 3, 9))
    assert sum(p["totalTokens"] for p in one["projects"]) == sum(
        r.total_tokens for r in rows if T0 - T0 % DAY + DAY <= r.ts < T0 - T0 % DAY + 2 * DAY)
    empty = reports.project_totals([], tz=timezone.utc)
    assert empty == {"projects": [], "totals": {"cacheCreationTokens": 0, "cacheReadTokens": 0, "inputTokens": 0,
                                                "outputTokens": 0, "reasoningOutputTokens": 0, "totalCost": -0.0, "totalTokens": 0}}
    with pytest.raises(ConfigError):
        reports.project_totals(rows, tz=timezone.utc, order="sideways")


@pytest.fixture()
def env(tmp_path: Path) -> dict[str, str]:
    claude = tmp_path / "claude"
    for i in range(12):
        proj = f"-home-u-{'alpha' if i % 3 else 'beta-with-a-very-long-folder-name-indeed'}"
        write_lines(claude, proj, f"s{i % 4}", [line(T0 + i * 600_000, f"s{i % 4}", f"m{i}", inp=100 * i + 1)])
    return dict(os.environ, MESHD_HOME=str(tmp_path / "home"), CLAUDE_CONFIG_DIR=str(claude), TZ="UTC",
                COLUMNS="80")


def run(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "meshctl", *argv], env=env, capture_output=True, text=True,
                          timeout=60)


def test_cli_projects_json_and_table(env: dict[str, str]) -> None:
    p = run(env, "projects", "--json")
    assert p.returncode == 0, p.stderr
    data = json.loads(p.stdout)
    sess = json.loads(run(env, "session", "--json").stdout)
    assert [r["project"] for r in data["projects"]][0] in {s["projectPath"] for s in sess["sessions"]}
    assert data["totals"] == sess["totals"]
    assert sum(r["sessions"] for r in data["projects"]) == len(sess["sessions"])
    only = json.loads(run(env, "projects", "--json", "--project", "-home-u-alpha").stdout)
    assert [r["project"] for r in only["projects"]] == ["-home-u-alpha"]
    t = run(env, "projects", "--breakdown", "--by-device")
    assert t.returncode == 0 and "Total" in t.stdout and "sonnet-4-5" in t.stdout
    assert max(len(x) for x in t.stdout.splitlines()) <= 80
    none = run(env, "projects", "--since", "2030-01-01")
    assert none.stdout.strip() == "No usage found."


@pytest.mark.parametrize("argv", [
    ["projects", "--since", "2026-13-01"],
    ["projects", "--until", "9" * 5000],
    ["projects", "--timezone", "Nope/Zone"],
    ["projects", "--device", "no-such-machine"],
    ["projects", "--order", "sideways"],
    ["projects", "--project", "p" * 5000],
    ["projects", "--mode", "free"],
])
def test_cli_projects_bad_arguments(env: dict[str, str], argv: list[str]) -> None:
    p = run(env, *argv)
    assert p.returncode != 0 and "Traceback" not in p.stderr
    lines = [x for x in p.stderr.splitlines() if x.strip()]
    assert lines and len(lines) <= 4
