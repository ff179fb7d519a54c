"""A reading that Claude Code hands to the statusline on one machine shows on another (real daemons)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from tests.test_mesh_loopback import Mesh, wait_for
from tests.test_statusline import live_lines


def statusline(env: dict[str, str], payload: dict) -> str:
    p = subprocess.run([sys.executable, "-m", "meshctl", "statusline"], env=env, input=json.dumps(payload).encode(),
                       capture_output=True, timeout=60)
    assert p.returncode == 0 and p.stderr == b"", p.stderr
    return p.stdout.decode().strip()


def test_a_reading_taken_on_one_machine_shows_on_the_other(tmp_path: Path):
    m = Mesh(tmp_path, "ab")
    try:
        for k, name in (("a", "desk"), ("b", "laptop")):
            m.home(k).mkdir(parents=True, exist_ok=True)
            (m.home(k) / "config.toml").write_text(f'sync_interval = 1.0\ndevice_name = "{name}"\n')
        a = m.start("a")
        b = m.start("b", peers="a")
        live_lines(m.folder("a"), 3, tag="a")
        live_lines(m.folder("b"), 5, tag="b")
        now_s = int(time.time())
        rate = {"five_hour": {"used_percentage": 37, "resets_at": now_s + 3600},
                "seven_day": {"used_percentage": 64.4, "resets_at": now_s + 86400}}
        # b's daemon ingests its lines; the statusline records b's official reading in b's log
        wait_for(lambda: "$0.00 today" not in statusline(b.env, {}), 30, "b to ingest its lines")
        assert "5h 37%" in statusline(b.env, {"rate_limits": rate})
        def remote_reading() -> str | None:
            s = statusline(a.env, {})
            return s if "@laptop" in s else None

        line = wait_for(remote_reading, 30, "a to show b's reading")
        assert "5h 37%" in line and "7d 64%" in line and "@laptop" in line, line  # type: ignore[operator]
        # a's cost share counts both machines' usage in the window: a has 3 small entries of 8
        share = int(str(line).rsplit("here ", 1)[1].split("%")[0])
        assert 0 < share < 50, line
        assert "mesh offline" not in str(line)
        # status on a: b's official reading, split across both machines by their cost in the window
        p = subprocess.run([sys.executable, "-m", "meshctl", "status", "--json"], env=a.env, capture_output=True,
                           timeout=60)
        assert p.returncode == 0, p.stderr
        five = json.loads(p.stdout)["rateLimits"]["five_hour"]
        assert five["device"] == "laptop" and five["usedPercentage"] == 37 and not five["expired"]
        assert 75 < five["elapsedPercentage"] < 85  # resets in an hour: four fifths of the window passed
        split = {d["device"]: d["percentagePoints"] for d in five["devices"]}
        assert set(split) == {"desk", "laptop"} and abs(sum(split.values()) - 37) < 1e-9
        assert split["laptop"] > split["desk"]
        # a setting made on one machine reaches the other (last writer wins)
        run = lambda env, *args: subprocess.run([sys.executable, "-m", "meshctl", *args], env=env,  # noqa: E731
                                                capture_output=True, text=True, timeout=60)
        assert run(a.env, "plan", "set", "pro").returncode == 0
        assert run(b.env, "budget", "set", "--", "-home-u-proj", "25").returncode == 0
        wait_for(lambda: json.loads(run(b.env, "plan", "show", "--json").stdout)["plan"] == "pro", 30,
                 "b to learn a's plan")
        wait_for(lambda: json.loads(run(a.env, "budget", "list", "--json").stdout)["budgets"], 30,
                 "a to learn b's budget")
        assert run(b.env, "plan", "set", "max20x").returncode == 0  # later: wins everywhere
        wait_for(lambda: json.loads(run(a.env, "plan", "show", "--json").stdout)["plan"] == "max20x", 30,
                 "a to learn the later plan")
    finally:
        m.stop_all()
