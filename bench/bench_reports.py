"""Reports benchmark: first ingest and warm `daily/blocks --json`, meshctl vs ccusage, same run.

    python bench/bench_reports.py [--mb 200] [--runs 5] [--keep DIR] [--json FILE] [--breakdown]

Needs ccusage 20.0.24 (CCUSAGE_BIN or `ccusage` on PATH) for the ratios; prints a table.
`--json FILE` also writes the figures (seconds) as JSON, for bench/run. `--breakdown` also prints
where a warm report's time goes (interpreter start-up, imports, and each step of the warm path
in meshd/warm.py), medians of `--runs` fresh processes.

meshctl runs from byte-compiled modules, as after a real `pip install .` (which writes the .pyc
files at install time): the script byte-compiles `meshd` and `cli` first, since an editable
install under PYTHONDONTWRITEBYTECODE=1 would otherwise recompile ~35 modules (~45 ms) per run.
"""

from __future__ import annotations

import argparse
import compileall
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.histgen import generate  # noqa: E402


def timed(argv: list[str], env: dict[str, str]) -> float:
    t = time.perf_counter()
    p = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    dt = time.perf_counter() - t
    if p.returncode:
        raise SystemExit(f"{argv} failed: {p.stderr.decode()[-400:]}")
    return dt


def du(paths: list[Path]) -> int:
    return sum(f.stat().st_size for p in paths for f in p.rglob("*.jsonl"))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=200)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--keep", type=Path)
    ap.add_argument("--json", type=Path, help="also write the figures here as JSON")
    ap.add_argument("--breakdown", action="store_true", help="also print where a warm report's time goes")
    a = ap.parse_args()
    for pkg in ("meshd", "cli"):  # .pyc files, as `pip install .` writes them (see the docstring)
        compileall.compile_dir(ROOT / pkg, quiet=1)
    work = a.keep or Path(tempfile.mkdtemp(prefix="meshd-bench-"))
    hist = work / "hist"
    if not hist.exists():
        # ~2 KB per line on average: size the generated history to about --mb megabytes.
        sessions = max(4, a.mb * 2)
        generate(hist, folders=3, sessions=sessions, lines=250, seed=42)
    roots = sorted(p for p in hist.iterdir() if p.is_dir())
    size = du(roots)
    env = dict(os.environ, CLAUDE_CONFIG_DIR=",".join(map(str, roots)), TZ="UTC")
    meshctl = [sys.executable, "-m", "meshctl"]
    ccu = os.environ.get("CCUSAGE_BIN") or shutil.which("ccusage")
    rows: list[tuple[str, float, float | None]] = []

    first = []
    for i in range(2):
        home = work / f"home-first-{i}"
        shutil.rmtree(home, ignore_errors=True)
        first.append(timed([*meshctl, "daily", "--json"], dict(env, MESHD_HOME=str(home))))
    warm_env = dict(env, MESHD_HOME=str(work / "home-first-0"))
    cc_daily = statistics.median(timed([ccu, "claude", "daily", "--json", "--offline"], env) for _ in range(a.runs)) if ccu else None
    cc_blocks = statistics.median(timed([ccu, "claude", "blocks", "--json", "--offline"], env) for _ in range(a.runs)) if ccu else None
    rows.append(("first ingest + daily --json", statistics.median(first), cc_daily))
    rows.append(("daily --json (warm)", statistics.median(timed([*meshctl, "daily", "--json"], warm_env) for _ in range(a.runs)), cc_daily))
    rows.append(("blocks --json (warm)", statistics.median(timed([*meshctl, "blocks", "--json"], warm_env) for _ in range(a.runs)), cc_blocks))
    print(f"history: {size / 1e6:,.0f} MB in {len(roots)} folders; medians of {a.runs} runs (first ingest: 2)")
    print(f"{'what':32} {'meshctl':>9} {'ccusage':>9} {'ccusage/meshctl':>16}")
    for name, mine, theirs in rows:
        ratio = f"{theirs / mine:.2f}x" if theirs else "-"
        th = f"{theirs:.3f}s" if theirs else "-"
        print(f"{name:32} {mine:8.3f}s {th:>9} {ratio:>16}")
    if a.breakdown:
        breakdown(warm_env, a.runs)
    if a.json:
        import json

        a.json.write_text(json.dumps({
            "history_bytes": size, "folders": len(roots), "runs": a.runs, "ccusage": ccu,
            "first_ingest_s": rows[0][1], "daily_warm_s": rows[1][1], "blocks_warm_s": rows[2][1],
            "ccusage_daily_s": cc_daily, "ccusage_blocks_s": cc_blocks}, indent=1, sort_keys=True) + "\n")
    if not a.keep:
        shutil.rmtree(work, ignore_errors=True)


# One warm report, step by step, in a fresh interpreter (what `meshctl daily --json` does on its
# fast path: cli/report_views.report -> meshd/warm.open_for_report -> meshd/query.run -> JSON).
PHASES = r"""
import time
t = [time.perf_counter()]
import sys
from meshctl import report_args, report_views, render
from meshd import query, warm
from meshd.clock import now_ms
from meshd.config import load_config
from meshd.core import jsontext
from meshd.store.db import connect
import meshd.core.blocks, meshd.core.reports, meshd.identity, meshd.ingest.listing, meshd.ingest.sources
import meshd.store.usage
t.append(time.perf_counter())
config = load_config(None)
q = query.report_query(sys.argv[1], tz_default=config.timezone, mode_default=config.cost_mode, cli=True)
t.append(time.perf_counter())
conn = connect(config.db_path)
assert warm.settled(conn, config)
t.append(time.perf_counter())
assert warm.ingested(conn, config)
t.append(time.perf_counter())
data = query.run(conn, q, now_ms())
t.append(time.perf_counter())
jsontext.dumps(data)
t.append(time.perf_counter())
print(" ".join(str(b - a) for a, b in zip(t, t[1:])))
"""
STEPS = ("imports", "config + options", "open + settled", "ingest check", "query", "JSON")


def breakdown(env: dict[str, str], runs: int) -> None:
    """Medians of each step of a warm report, plus the bare interpreter start-up, in ms."""
    def median_of(argv: list[str]) -> list[float]:
        got = []
        for _ in range(runs):
            p = subprocess.run(argv, env=env, capture_output=True, text=True, check=True)
            got.append([float(x) for x in p.stdout.split()] if p.stdout.strip() else [])
        return [statistics.median(col) * 1e3 for col in zip(*got)] if got[0] else []

    start = statistics.median(timed([sys.executable, "-c", "pass"], env) for _ in range(runs)) * 1e3
    print(f"\nwarm report, step by step (ms, medians of {runs} processes):")
    print(f"{'step':20} {'daily':>8} {'blocks':>8}")
    cols = {kind: median_of([sys.executable, "-c", PHASES, kind]) for kind in ("daily", "blocks")}
    print(f"{'python start-up':20} {start:8.1f} {start:8.1f}")
    for i, step in enumerate(STEPS):
        print(f"{step:20} {cols['daily'][i]:8.1f} {cols['blocks'][i]:8.1f}")


if __name__ == "__main__":
    main()
