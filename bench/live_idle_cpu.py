"""Idle CPU of `meshctl status --live` in a real terminal (tmux), with and without a daemon.

    python bench/live_idle_cpu.py [--seconds 60] [--files 200] [--json FILE]

Starts the view in a private tmux server on a generated history (FILES session logs, one with
recent usage so a block is active), waits for the first frame, then reads the process's CPU time
from /proc over the window. Without a daemon the view looks for new log lines every 2 s; with one
it asks the daemon for its peers every 5 s and re-reads the replica when SQLite reports a commit.
Prints CPU % of one core for each case.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.test_live_tty import append_lines  # noqa: E402


def cpu_seconds(pid: int) -> float:
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def find_child(parent: int, name: str) -> int:
    for _ in range(100):
        out = subprocess.run(["pgrep", "-P", str(parent)], capture_output=True, text=True).stdout.split()
        for pid in out:
            try:
                if name in open(f"/proc/{pid}/cmdline").read():
                    return int(pid)
            except OSError:
                pass
        time.sleep(0.1)
    raise SystemExit(f"{name} not found under {parent}")


def measure(tmp: Path, seconds: float, daemon: bool) -> tuple[float, str]:
    home = tmp / ("home-d" if daemon else "home-p")
    claude = tmp / "claude"
    env = dict(os.environ, MESHD_HOME=str(home), CLAUDE_CONFIG_DIR=str(claude), TZ="UTC", TERM="xterm-256color",
               PYTHONPATH=str(ROOT))
    proc = None
    if daemon:
        home.mkdir(parents=True, exist_ok=True)
        proc = subprocess.Popen([sys.executable, "-m", "meshd", "run", "--listen", "127.0.0.1:0", "--no-mdns",
                                 "--insecure-dev"], env=env, stderr=subprocess.PIPE, text=True)
        assert proc.stderr is not None
        for line in proc.stderr:
            if "listening on" in line:
                break
    sock = f"meshd-cpu-{uuid.uuid4().hex[:8]}"
    script = tmp / f"{sock}.sh"
    script.write_text("#!/bin/bash\n" + "".join(f"export {k}='{v}'\n" for k, v in env.items() if k in (
        "MESHD_HOME", "CLAUDE_CONFIG_DIR", "TZ", "TERM", "PYTHONPATH")) +
        f"exec {sys.executable} -m meshctl status --live\n")
    script.chmod(0o755)
    subprocess.run(["tmux", "-L", sock, "-f", "/dev/null", "new-session", "-d", "-x", "80", "-y", "24", str(script)],
                   check=True)
    try:
        deadline = time.monotonic() + 120
        while "Active block" not in subprocess.run(["tmux", "-L", sock, "capture-pane", "-p"], capture_output=True,
                                                   text=True).stdout:
            if time.monotonic() > deadline:
                raise SystemExit("the view did not appear")
            time.sleep(0.2)
        pid = int(subprocess.run(["tmux", "-L", sock, "display-message", "-p", "#{pane_pid}"], capture_output=True,
                                 text=True).stdout)
        time.sleep(3)  # past start-up
        c0, t0 = cpu_seconds(pid), time.monotonic()
        time.sleep(seconds)
        c1, t1 = cpu_seconds(pid), time.monotonic()
        title = subprocess.run(["tmux", "-L", sock, "capture-pane", "-p"], capture_output=True,
                               text=True).stdout.splitlines()[0]
        feed = next((f for f in ("live", "via daemon", "polling") if f"{f} · q quits" in title), "?")
        return 100 * (c1 - c0) / (t1 - t0), feed
    finally:
        subprocess.run(["tmux", "-L", sock, "kill-server"], capture_output=True)
        if proc is not None:
            proc.terminate()
            proc.wait(10)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--files", type=int, default=200)
    ap.add_argument("--json", type=Path, help="also write the rows here as JSON (for bench/run)")
    a = ap.parse_args()
    if shutil.which("tmux") is None:
        raise SystemExit("tmux is needed")
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for i in range(a.files):
            append_lines(tmp / "claude", 50, f"f{i}", spread_ms=3_600_000 * 24)
        append_lines(tmp / "claude", 30, "recent")
        print(f"| case | feed shown | log files | idle CPU (% of one core over {a.seconds:.0f} s) |")
        print("|---|---|---|---|")
        rows = []
        for daemon in (False, True):
            pct, feed = measure(tmp, a.seconds, daemon)
            print(f"| {'with daemon' if daemon else 'no daemon'} | {feed} | {a.files + 1} | {pct:.2f} % |")
            rows.append({"daemon": daemon, "feed": feed, "files": a.files + 1, "seconds": a.seconds, "cpu_pct": pct})
        if a.json:
            import json

            a.json.write_text(json.dumps(rows, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
