"""Parse-only benchmark: the CPU a first ingest spends turning Claude Code lines into log records.

    python bench/bench_parse.py [--mb 200] [--runs 5] [--keep DIR] [--json FILE]

Runs `tailer.preparse` (what a parse worker runs: read, find usage lines, parse, build record
bodies and rows) over every file of a generated history, single-threaded, in this process, and
prints the CPU time per run (min and median) and per usage entry. No SQLite, no worker processes:
this is the parse side of a first ingest alone (bench_reports.py times the whole of it).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.histgen import generate  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=200)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--keep", type=Path, help="generate the history here once and reuse it")
    ap.add_argument("--json", type=Path, help="also write the figures here as JSON")
    a = ap.parse_args()
    from meshd.app import PREFETCH_LIMIT
    from meshd.ingest.sources import claude_files
    from meshd.ingest.tailer import preparse

    work = a.keep or Path(tempfile.mkdtemp(prefix="meshd-parse-"))
    hist = work / "hist"
    if not hist.exists():
        generate(hist, folders=3, sessions=max(4, a.mb * 2), lines=250, seed=42)  # as bench_reports.py
    files = [lf for root in sorted(p for p in hist.iterdir() if p.is_dir()) for lf in claude_files(root)]
    size = sum(os.path.getsize(lf.path) for lf in files)
    cpu: list[float] = []
    entries = skipped = 0
    for _ in range(a.runs):
        entries = skipped = 0
        t = time.process_time()
        for lf in files:
            p = preparse(lf, None, "0" * 32, PREFETCH_LIMIT)
            if p is not None:
                entries += len(p.bodies)
                skipped += p.skipped
        cpu.append(time.process_time() - t)
    best, med = min(cpu), statistics.median(cpu)
    print(f"history: {size / 1e6:,.0f} MB, {len(files)} files, {entries:,} usage entries, {skipped} skipped lines")
    print(f"parse CPU per run: min {best:.3f} s, median {med:.3f} s ({a.runs} runs);"
          f" {med / max(entries, 1) * 1e6:.1f} us per entry")
    if a.json:
        a.json.write_text(json.dumps({"history_bytes": size, "files": len(files), "entries": entries,
                                      "runs": a.runs, "parse_cpu_min_s": best, "parse_cpu_median_s": med},
                                     indent=1, sort_keys=True) + "\n")
    if not a.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
