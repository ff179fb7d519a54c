"""Reports benchmark: first ingest and warm `daily/blocks --json`, meshctl vs ccusage, same run.

    python bench/bench_reports.py [--mb 200] [--runs 5] [--keep DIR] [--json FILE]

Needs ccusage 20.0.24 (CCUSAGE_BIN or `ccusage` on PATH) for the ratios; prints a table.
`--json FILE` also writes the figures (seconds) as JSON, for bench/run.

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
    if a.json:
        import json

        a.json.write_text(json.dumps({
            "history_bytes": size, "folders": len(roots), "runs": a.runs, "ccusage": ccu,
            "first_ingest_s": rows[0][1], "daily_warm_s": rows[1][1], "blocks_warm_s": rows[2][1],
            "ccusage_daily_s": cc_daily, "ccusage_blocks_s": cc_blocks}, indent=1, sort_keys=True) + "\n")
    if not a.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
