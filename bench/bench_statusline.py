"""Statusline benchmark: `meshctl statusline` wall and CPU time on a large generated history.

    python bench/bench_statusline.py [--mb 200] [--runs 31] [--keep DIR] [--json FILE]

Generates a history (tests/histgen.py) whose last session ends just now, ingests it once with
`meshctl daily`, then runs the statusline as Claude Code does (a fresh process, JSON on stdin) in
several cases and prints median / p90 wall and CPU milliseconds: with the snapshot cache (a
refresh that finds the replica unchanged), with it off (MESHD_STATUSLINE_CACHE=0: every refresh
reads the replica), recording a new reading each time, and with the transcript growing. Baselines in the same run: a bare
`python -c pass` (interpreter start-up on this machine) and `meshctl --version` (click start-up).
DESIGN §6 target: median under 100 ms at any history size. `--json FILE` also writes every case's
figures (milliseconds) as JSON, for bench/run.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.histgen import append_lines, generate  # noqa: E402


def run_once(argv: list[str], env: dict[str, str], stdin: bytes) -> tuple[float, float, str]:
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    p = subprocess.run(argv, env=env, input=stdin, capture_output=True)
    wall = time.perf_counter() - t
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime)
    if p.returncode:
        raise SystemExit(f"{argv} exited {p.returncode}: {p.stderr.decode()[-400:]}")
    return wall * 1000, cpu * 1000, p.stdout.decode().strip()


def measure(name: str, argv: list[str], env: dict[str, str], runs: int, stdin=lambda i: b"",  # type: ignore[no-untyped-def]
            before=None) -> tuple[str, float, float, float, str]:  # type: ignore[no-untyped-def]
    walls, cpus, out = [], [], ""
    for i in range(runs):
        if before is not None:
            before(i)
        w, c, out = run_once(argv, env, stdin(i))
        walls.append(w)
        cpus.append(c)
    walls.sort()
    return name, statistics.median(walls), walls[int(0.9 * (len(walls) - 1))], statistics.median(cpus), out


def payload(transcript: Path, five: float, seven: float, now_s: int) -> bytes:
    import json

    return json.dumps({
        "session_id": transcript.stem, "transcript_path": str(transcript), "cwd": "/home/alice/src/meshd",
        "model": {"id": "claude-sonnet-4-5-20250929", "display_name": "Sonnet 4.5"},
        "workspace": {"current_dir": "/home/alice/src/meshd", "project_dir": "/home/alice/src/meshd"},
        "version": "2.1.90", "output_style": {"name": "default"},
        "cost": {"total_cost_usd": 1.23, "total_duration_ms": 100000, "total_api_duration_ms": 50000,
                 "total_lines_added": 10, "total_lines_removed": 2},
        "context_window": {"total_input_tokens": 1000, "total_output_tokens": 500, "context_window_size": 200000,
                           "used_percentage": 12.5, "remaining_percentage": 87.5},
        "rate_limits": {"five_hour": {"used_percentage": five, "resets_at": now_s + 7200},
                        "seven_day": {"used_percentage": seven, "resets_at": now_s + 400000}},
    }).encode()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=float, default=200)
    ap.add_argument("--runs", type=int, default=31)
    ap.add_argument("--keep", type=Path, help="reuse/keep the history and home in this folder")
    ap.add_argument("--json", type=Path, help="also write the figures here as JSON")
    a = ap.parse_args()
    import compileall

    root = Path(__file__).resolve().parent.parent
    for pkg in ("meshd", "cli"):  # .pyc files, as `pip install .` writes them (an editable install under
        compileall.compile_dir(root / pkg, quiet=1)  # PYTHONDONTWRITEBYTECODE=1 would recompile per run)
    base = a.keep or Path(tempfile.mkdtemp(prefix="meshd-slbench-"))
    hist_dir, home = base / "hist", base / "home"
    now = datetime.now(timezone.utc)
    if not (hist_dir / "f0").exists():
        t = time.perf_counter()
        generate(hist_dir, folders=3, target_bytes=int(a.mb * (1 << 20)), days=60, now=now)
        print(f"generated {a.mb:.0f} MB in {time.perf_counter() - t:.1f}s", file=sys.stderr)
    folders = sorted(p for p in hist_dir.iterdir() if p.name.startswith("f"))
    files = sorted((f for d in folders for f in d.rglob("*.jsonl") if "subagents" not in f.parts),
                   key=lambda f: f.stat().st_mtime)
    size = sum(f.stat().st_size for d in folders for f in d.rglob("*.jsonl"))
    env = dict(os.environ, MESHD_HOME=str(home), CLAUDE_CONFIG_DIR=",".join(str(d) for d in folders))
    env.pop("MESHD_DEBUG", None)
    bindir = Path(sys.executable).parent
    meshctl = [str(bindir / "meshctl")] if (bindir / "meshctl").exists() else [sys.executable, "-m", "meshctl"]
    t = time.perf_counter()
    subprocess.run(meshctl + ["daily", "--json"], env=env, stdout=subprocess.DEVNULL, check=True)
    print(f"ingest (meshctl daily): {time.perf_counter() - t:.1f}s", file=sys.stderr)
    transcript = files[-1]
    nocache = dict(env, MESHD_STATUSLINE_CACHE="0")
    now_s = int(time.time())
    steady = payload(transcript, 23.5, 41.0, now_s)
    results = [
        measure("python -c pass (baseline)", [sys.executable, "-c", "pass"], env, a.runs),
        measure("meshctl --version (click)", meshctl + ["--version"], env, a.runs),
        measure("statusline, steady (cached snapshot)", meshctl + ["statusline"], env, a.runs, lambda i: steady),
        measure("statusline, cache off (full read)", meshctl + ["statusline"], nocache, a.runs, lambda i: steady),
        measure("statusline, new reading each run", meshctl + ["statusline"], env, a.runs,
                lambda i: payload(transcript, 23.5 + i / 10, 41.0, now_s)),
        measure("statusline, +3 transcript lines each", meshctl + ["statusline"], env, a.runs, lambda i: steady,
                before=lambda i: append_lines(transcript, 3)),
        measure("statusline, garbage stdin", meshctl + ["statusline"], env, a.runs,
                lambda i: os.urandom(4096)),
        measure("statusline, empty stdin", meshctl + ["statusline"], env, a.runs),
    ]
    print(f"\nhistory {size / 1e6:,.0f} MB in {len(folders)} folders; {a.runs} runs per case; "
          f"load average {os.getloadavg()[0]:.2f}; {os.cpu_count()} cores")
    print(f"{'case':42} {'median ms':>10} {'p90 ms':>8} {'cpu ms':>8}")
    for name, med, p90, cpu, _out in results:
        print(f"{name:42} {med:10.1f} {p90:8.1f} {cpu:8.1f}")
    print(f"\nlast line: {results[2][4]}")
    if a.json:
        import json

        a.json.write_text(json.dumps({
            "history_bytes": size, "runs": a.runs, "last_line": results[2][4],
            "cases": [{"case": name, "median_ms": med, "p90_ms": p90, "cpu_ms": cpu}
                      for name, med, p90, cpu, _out in results]}, indent=1, sort_keys=True) + "\n")
    if not a.keep:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
