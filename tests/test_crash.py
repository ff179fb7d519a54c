"""SIGKILL at random moments during ingest never changes the final totals."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest


def make_history(root: Path, files: int, lines_per_file: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    pad = "y" * 1500
    for f in range(files):
        d = root / "projects" / f"-home-u-p{f % 3}"
        d.mkdir(parents=True, exist_ok=True)
        out = []
        for i in range(lines_per_file):
            ts = f"2026-03-{1 + i % 28:02d}T{i % 24:02d}:{rng.randint(0, 59):02d}:00.000Z"
            mid = f"msg_{f}_{i}" if i % 11 else None
            msg = {"role": "assistant", "model": rng.choice(["claude-sonnet-4-5", "claude-opus-4-1"]),
                   "usage": {"input_tokens": rng.randint(1, 9000), "output_tokens": rng.randint(1, 900),
                             "cache_read_input_tokens": rng.randint(0, 50000)}}
            if mid:
                msg["id"] = mid
            out.append(json.dumps({"timestamp": ts, "sessionId": f"s{f}", "version": "2.0.3",
                                   "requestId": f"r_{f}_{i}", "message": msg}, separators=(",", ":")))
            out.append(json.dumps({"type": "user", "message": {"content": pad}}))
            if i % 97 == 0:
                out.append(out[-2])  # a duplicated line, as streaming produces
        (d / f"s{f}.jsonl").write_text("\n".join(out) + "\n")


def daily(home: Path, claude: Path) -> dict:
    env = dict(os.environ, MESHD_HOME=str(home), CLAUDE_CONFIG_DIR=str(claude), TZ="UTC")
    p = subprocess.run([sys.executable, "-m", "meshctl", "daily", "--json"], env=env, capture_output=True,
                       text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def _survivors(home: Path) -> list[int]:
    """Processes still running with this data home (forked parse workers of a killed meshctl)."""
    want = f"MESHD_HOME={home}".encode()
    for _ in range(50):
        found = []
        for d in Path("/proc").glob("[0-9]*"):
            try:
                if want in (d / "environ").read_bytes().split(b"\0"):
                    found.append(int(d.name))
            except OSError:
                continue
        if not found:
            return []
        time.sleep(0.1)
    return found


def test_sigkill_during_ingest_never_changes_totals(tmp_path: Path) -> None:
    claude = tmp_path / "claude"
    make_history(claude, files=24, lines_per_file=1500)
    t0 = time.monotonic()
    clean = daily(tmp_path / "clean", claude)
    took = time.monotonic() - t0  # kill inside the window a whole run takes on this machine
    home = tmp_path / "killed"
    env = dict(os.environ, MESHD_HOME=str(home), CLAUDE_CONFIG_DIR=str(claude), TZ="UTC")
    rng = random.Random(11)
    kills = 0
    attempts = 0
    while kills < 4 and attempts < 40:  # each killed run resumes the last one's work, so kill early
        attempts += 1
        p = subprocess.Popen([sys.executable, "-m", "meshctl", "daily", "--json"], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.15, 0.15 + 0.3 * took))
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
            kills += 1
        p.wait()
    assert _survivors(home) == [], "a killed meshctl left parse workers behind"
    after = daily(home, claude)
    assert kills >= 2, "the history ingested too fast to kill mid-way; make it larger"
    assert after["totals"] == clean["totals"]
    assert after["daily"] == clean["daily"]
    # the log has no holes and the vector matches it
    import sqlite3

    conn = sqlite3.connect(home / "meshd.db")
    for origin, epoch, max_seq in conn.execute("SELECT origin, epoch, max_seq FROM vector"):
        n, lo, hi = conn.execute("SELECT COUNT(*), MIN(seq), MAX(seq) FROM log WHERE origin=? AND epoch=?",
                                 (origin, epoch)).fetchone()
        assert (n, lo, hi) == (max_seq, 1, max_seq)


def test_concurrent_ingesters_share_one_home_safely(tmp_path: Path) -> None:
    """Two processes ingesting the same home at once count every entry exactly once."""
    claude = tmp_path / "claude"
    make_history(claude, files=12, lines_per_file=1200, seed=3)
    clean = daily(tmp_path / "clean", claude)
    home = tmp_path / "shared"
    env = dict(os.environ, MESHD_HOME=str(home), CLAUDE_CONFIG_DIR=str(claude), TZ="UTC")
    procs = [subprocess.Popen([sys.executable, "-m", "meshctl", "daily", "--json"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(3)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1] for o in outs]
    assert daily(home, claude)["totals"] == clean["totals"]
    import sqlite3

    conn = sqlite3.connect(home / "meshd.db")
    (n, m), = conn.execute("SELECT COUNT(*), MAX(max_seq) FROM vector").fetchall()
    assert n == 1
    assert conn.execute("SELECT COUNT(*) FROM log").fetchone()[0] == m
