"""Local API benchmark: report latency over the Unix socket vs `meshctl --json`, and how soon a new
log line reaches a watcher.

    python bench/api_bench.py [--records 200000] [--runs 15] [--json FILE]

One real `meshd run` on a replica of N usage records (made through meshd.store), a Claude folder
for live lines; prints one table of medians.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.apikit import line, stub, write_lines  # noqa: E402
from tests.meshkit import Daemon, build_replica, provision  # noqa: E402
from tests.test_mesh_loopback import free_port  # noqa: E402


def median_ms(xs: list[float]) -> str:
    return f"{statistics.median(xs) * 1000:8.1f}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=200_000)
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--json", type=Path, help="also write the rows (median ms, API and meshctl) here as JSON")
    a = ap.parse_args()
    from meshd.v1 import local_pb2 as pb

    with tempfile.TemporaryDirectory(prefix="api-bench-") as tmp:
        root = Path(tmp)
        home, claude = root / "home", root / "claude"
        (claude / "projects").mkdir(parents=True)
        provision([home])
        build_replica(home, a.records, tag="bench")
        d = Daemon("bench", home, [claude], f"127.0.0.1:{free_port()}", mdns=False, sync_interval=5.0).start()
        ch, s = stub(home)
        rows = []
        try:
            for name, kind, cli in (("daily", pb.REPORT_KIND_DAILY, "daily"),
                                    ("session", pb.REPORT_KIND_SESSION, "session"),
                                    ("projects", pb.REPORT_KIND_PROJECTS, "projects")):
                req = pb.ReportRequest(kind=kind, filter=pb.ReportFilter(timezone="UTC"))
                s.Report(req)  # warm
                api = []
                for _ in range(a.runs):
                    t = time.perf_counter()
                    s.Report(req)
                    api.append(time.perf_counter() - t)
                cl = []
                for _ in range(max(3, a.runs // 3)):
                    t = time.perf_counter()
                    subprocess.run([sys.executable, "-m", "meshctl", cli, "--json", "-z", "UTC"], env=d.env,
                                   stdout=subprocess.DEVNULL, check=True)
                    cl.append(time.perf_counter() - t)
                rows.append((f"{name} report", median_ms(api), median_ms(cl)))
            req = pb.BlocksRequest(filter=pb.ReportFilter(timezone="UTC"))
            api = []
            for _ in range(a.runs):
                t = time.perf_counter()
                s.Blocks(req)
                api.append(time.perf_counter() - t)
            rows.append(("blocks", median_ms(api), "-"))
            w = s.Watch(pb.WatchRequest(topics=[pb.WATCH_TOPIC_USAGE, pb.WATCH_TOPIC_BLOCKS]))
            next(w)
            lat = []
            for i in range(a.runs):
                time.sleep(0.3)
                t = time.perf_counter()
                write_lines(claude, "-bench", "s", [line(int(time.time() * 1000), "s", f"bench-{i}")])
                while next(w).WhichOneof("event") != "usage":
                    pass
                lat.append(time.perf_counter() - t)
            w.cancel()
            rows.append(("line appended -> watch event", median_ms(lat), "-"))
        finally:
            ch.close()
            d.stop()
        print(f"local API, {a.records:,} records, median of {a.runs} (ms)")
        print(f"{'what':32} {'API':>8} {'meshctl':>8}")
        for r in rows:
            print(f"{r[0]:32} {r[1]:>8} {r[2]:>8}")
        if a.json:
            import json

            a.json.write_text(json.dumps([{"what": w, "api_ms": float(x), "meshctl_ms": None if y == "-" else float(y)}
                                          for w, x, y in rows], indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
