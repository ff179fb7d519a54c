"""`meshctl plan` / `budget`, and the plan, pace and budget fields of `status` and `monthly` (real processes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from meshd.store.db import connect
from meshd.store.replica import Replica, transaction
from meshd.store.settings import budgets, plan
from tests.test_statusline import live_lines


@pytest.fixture()
def env(tmp_path: Path) -> dict[str, str]:
    claude = tmp_path / "claude"
    (claude / "projects").mkdir(parents=True)
    e = dict(os.environ, MESHD_HOME=str(tmp_path / "home"), CLAUDE_CONFIG_DIR=str(claude), TZ="UTC")
    e.pop("MESHD_DEBUG", None)
    return e


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "meshctl", *args], env=env, capture_output=True, text=True, timeout=60)


def ok(env: dict[str, str], *args: str) -> str:
    p = run(env, *args)
    assert p.returncode == 0, p.stderr
    return p.stdout


def fails(env: dict[str, str], *args: str) -> str:
    p = run(env, *args)
    assert p.returncode != 0 and "Traceback" not in p.stderr, p.stderr
    assert p.stderr.startswith(("meshctl: error:", "Usage:")), p.stderr
    return p.stderr


def test_plan_set_and_show(env):
    assert "No plan set" in ok(env, "plan")
    assert ok(env, "plan", "set", "MAX20X").strip() == "Plan set to max20x."
    assert json.loads(ok(env, "plan", "show", "--json")) | {"setBy": None} == {
        "plan": "max20x", "monthlyPrice": 200.0, "setBy": None}
    ok(env, "plan", "set", "api")
    assert ok(env, "plan").startswith("api, set on")


@pytest.mark.parametrize("bad", ["gold", "", " ", "pro\x01", "max5x;rm", "x" * 100_000, "ｐｒｏ"])
def test_plan_set_refuses_other_names(env, bad):
    err = fails(env, "plan", "set", bad)
    if err.startswith("meshctl:"):
        assert "hint: one of pro, max5x, max20x, api" in err and len(err) < 300


def test_budgets_set_list_remove(env):
    live_lines(Path(env["CLAUDE_CONFIG_DIR"]), 5, tag="b")
    out = ok(env, "budget", "set", "proj", "$1,000.50")  # the last part of -home-u-proj
    assert out.strip() == "Budget for -home-u-proj: $1,000.50 per month. (project -home-u-proj)"
    assert "no usage recorded" in ok(env, "budget", "set", "--", "-home-u-other", "20")
    rows = json.loads(ok(env, "budget", "list", "--json"))["budgets"]
    assert [(b["project"], b["budget"], b["status"]) for b in rows] == [
        ("-home-u-other", 20.0, "ok"), ("-home-u-proj", 1000.5, "ok")]
    assert rows[1]["totalCost"] > 0
    assert ok(env, "budget", "remove", "--", "-home-u-other").strip() == "Budget for -home-u-other removed."
    assert [b["project"] for b in json.loads(ok(env, "budget", "list", "--json"))["budgets"]] == ["-home-u-proj"]
    assert "no budget for" in fails(env, "budget", "remove", "--", "-home-u-other")


@pytest.mark.parametrize("amount", ["0", "-5", "nan", "inf", "-inf", "1e10", "abc", "", "1" * 50, "0x10", "1e-3000"])
def test_budget_set_refuses_bad_amounts(env, amount):
    assert "invalid amount" in fails(env, "budget", "set", "p", "--", amount) or amount.startswith("-")


@pytest.mark.parametrize("project", ["", " p", "a\nb", "x" * 256, "tab\there"])
def test_budget_set_refuses_bad_project_names(env, project):
    assert "invalid project name" in fails(env, "budget", "set", "--", project, "5")


def test_status_and_monthly_show_plan_pace_and_budget_warnings(env):
    live_lines(Path(env["CLAUDE_CONFIG_DIR"]), 8, tag="w")
    month = json.loads(ok(env, "monthly", "--json"))
    assert {"monthly", "totals"} <= set(month)  # ccusage's fields stay
    cost = month["monthly"][-1]["totalCost"]
    assert cost > 0
    ok(env, "plan", "set", "pro")
    ok(env, "budget", "set", "--", "-home-u-proj", f"{cost / 0.95:.2f}")  # 95 % used: warning
    st = json.loads(ok(env, "status", "--json"))
    assert st["plan"]["plan"] == "pro" and st["plan"]["monthlyPrice"] == 20.0
    assert st["plan"]["apiEquivalentCost"] == pytest.approx(cost, rel=1e-9)
    assert st["pace"]["trend"] in ("rising", "flat", "falling")
    assert st["pace"]["month"]["totalCost"] == pytest.approx(cost, rel=1e-9)
    assert st["pace"]["month"]["projectedCost"] >= cost and st["pace"]["week"]["projectedCost"] > 0
    (b,) = st["budgets"]
    assert b["status"] == "warning" and 90 <= b["percentUsed"] < 100
    assert "WARNING: 90% used" in ok(env, "status")
    ok(env, "budget", "set", "--", "-home-u-proj", f"{cost / 2:.2f}")  # over budget
    text = ok(env, "monthly")
    assert "OVER BUDGET" in text and "Plan     pro ($20.00/month)" in text
    m = json.loads(ok(env, "monthly", "--json"))
    assert m["budgets"][0]["status"] == "exceeded" and m["plan"]["plan"] == "pro"


def test_the_later_write_wins_on_every_replica(env, tmp_path):
    """Two data homes set the plan; after exchanging logs both agree on the later write."""
    env_b = dict(env, MESHD_HOME=str(tmp_path / "home-b"))
    ok(env, "plan", "set", "pro")
    ok(env_b, "plan", "set", "max5x")  # later
    ok(env, "budget", "set", "p", "10")
    homes = [Path(env["MESHD_HOME"]), Path(env_b["MESHD_HOME"])]
    conns = [connect(h / "meshd.db") for h in homes]
    reps = [Replica(c, dict(c.execute("SELECT key, value FROM meta"))["device_id"],
                    int(dict(c.execute("SELECT key, value FROM meta"))["epoch"]), lambda e: 0.0) for c in conns]
    for src, dst in ((reps[0], reps[1]), (reps[1], reps[0])):
        b = src.read_after(src.device_id, src.epoch, 0)
        assert b is not None
        with transaction(dst.conn):
            dst.apply_batch(b)
    assert plan(conns[0]) == plan(conns[1]) == "max5x"
    assert budgets(conns[0]) == budgets(conns[1]) == {"p": 10.0}
    for c in conns:
        c.close()
    assert ok(env, "plan").startswith("max5x")
