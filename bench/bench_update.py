"""Later updates: what `meshctl daily --json` costs after a small append to an already ingested history.

    python bench/bench_update.py --hist DIR --home HOME [--lines 20] [--runs 5] [--json FILE]

DIR holds the history's config folders (f0, f1, ... as tests/histgen.py writes them), HOME a
replica that has already ingested it (bench/bench_reports.py --keep leaves one in home-first-0).
Times `daily --json` with nothing new (the warm path), then after appending --lines usage lines
(plus their tool-result lines, tests.histgen.append_lines) to one session file before each run.
DESIGN §6: each later update costs O(new bytes), so the difference must not grow with the
history's size. The report's totals are checked to grow by the appended tokens' share.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.histgen import append_lines  # noqa: E402


def daily(argv: list[str], env: dict[str, str]) -> tuple[float, dict]:
    t = time.perf_counter()
    p = subprocess.run(argv, env=env, capture_output=True)
    dt = time.perf_counter() - t
    if p.returncode:
        raise SystemExit(f"{argv} failed: {p.stderr.decode()[-400:]}")
    return dt, json.loads(p.stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hist", type=Path, required=True, help="folder holding the config folders f0, f1, ...")
    ap.add_argument("--home", type=Path, required=True, help="MESHD_HOME of a replica that ingested the history")
    ap.add_argument("--lines", type=int, default=20, help="usage lines appended before each run")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--json", type=Path, help="also write the figures here as JSON")
    a = ap.parse_args()
    if not 1 <= a.lines <= 100_000 or not 1 <= a.runs <= 1000:
        raise SystemExit("bench_update: --lines must be 1..100000 and --runs 1..1000")
    folders = sorted(p for p in a.hist.iterdir() if p.is_dir() and p.name.startswith("f"))
    if not folders:
        raise SystemExit(f"bench_update: no config folders (f0, f1, ...) in {a.hist}")
    files = sorted(f for d in folders for f in d.rglob("*.jsonl") if "subagents" not in f.parts)
    size = sum(f.stat().st_size for d in folders for f in d.rglob("*.jsonl"))
    target = files[len(files) // 2]        # a session in the middle of the history, not the active one
    env = dict(os.environ, MESHD_HOME=str(a.home), CLAUDE_CONFIG_DIR=",".join(map(str, folders)), TZ="UTC")
    env.pop("MESHD_DEBUG", None)
    argv = [sys.executable, "-m", "meshctl", "daily", "--json"]
    _, before = daily(argv, env)           # catch up with anything appended since the replica was made
    unchanged = [daily(argv, env)[0] for _ in range(a.runs)]
    updated, added = [], []
    after = before
    for _ in range(a.runs):
        n0 = target.stat().st_size
        append_lines(target, a.lines)
        added.append(target.stat().st_size - n0)
        dt, after = daily(argv, env)
        updated.append(dt)
    grew = after["totals"]["totalTokens"] - before["totals"]["totalTokens"]
    if grew <= 0:
        raise SystemExit(f"bench_update: the appended lines did not reach the report (tokens grew by {grew})")
    fig = {"history_bytes": size, "lines": a.lines, "runs": a.runs, "new_bytes": statistics.median(added),
           "unchanged_s": statistics.median(unchanged), "update_s": statistics.median(updated),
           "tokens_added": grew}
    fig["update_cost_s"] = fig["update_s"] - fig["unchanged_s"]
    print(f"history {size / 1e6:,.0f} MB; +{a.lines} usage lines ({fig['new_bytes'] / 1e3:,.1f} KB) before each "
          f"run; medians of {a.runs}")
    print(f"daily --json, nothing new:   {fig['unchanged_s']:.3f} s")
    print(f"daily --json, after append:  {fig['update_s']:.3f} s  (update cost {fig['update_cost_s'] * 1000:+.0f} ms)")
    if a.json:
        a.json.write_text(json.dumps(fig, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
