"""Mesh benchmark: catch-up, convergence latency, idle cost of real `meshd run` daemons.

    python bench/mesh_bench.py [--records 1000000] [--trials 30] [--idle 60] [--only catchup,converge,idle,bytes]
    python bench/mesh_bench.py ... --json FILE     # also write the rows as JSON (for bench/run)

Needs root and iproute2: every daemon runs inside a network namespace (tests/netlab.py), so
nothing reaches the machine's real network and no mDNS leaks out of the lab.

1. catch-up: a source replica of N usage records is made directly through `meshd.store`
   (`Replica.append_usage`), a daemon serves it, and a fresh daemon on the same host pulls it over
   loopback (`--no-mdns --peer 127.0.0.1:PORT`). records/s = N / (time from the fresh daemon's
   ready line until its vector holds the whole log); also from its first applied record. The
   vector advances in the transaction that materializes the records (usage rows, rollup), so
   that is the time until reports see them; the bench checks both tables at the end.
2. convergence: 5 daemons on a bridge lab with mDNS and the default sync interval (so the notify
   path is what is measured). A trial appends one usage line to one host's JSONL file (hosts in
   turn) and times until every replica's vector holds it: p50/p95/max over --trials.
3. idle: the same 5 daemons left alone for --idle seconds: RSS (VmRSS, max) and CPU% of one core
   (utime+stime from /proc/<pid>/stat), per daemon.
4. bytes: 2 daemons, static peers, no mDNS, sync_interval 1 s, idle: bytes on the wire (the
   host's eth0 counters, both directions) per push-pull round, assuming each side starts one round
   per interval; plus the bytes of an explicit `meshctl sync` round. `--capture` also prints every
   packet of 3 idle seconds (bench/wire_capture.py).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.histgen import generate  # noqa: E402
from tests.meshkit import Daemon, append_claude_lines, build_replica, provision, vector  # noqa: E402
from tests.netlab import Lab, unavailable_reason  # noqa: E402

PORT = 47474


def _folders(h: object) -> list[Path]:
    return list(h.folders) if hasattr(h, "folders") else list(h)  # type: ignore[attr-defined, call-overload]


def _daemon(lab: Lab, host: str, home: Path, claude: list[Path], listen: str, **kw: object) -> Daemon:
    for c in claude:
        (c / "projects").mkdir(parents=True, exist_ok=True)
    return Daemon(host + ":" + listen, home, claude, listen,
                  spawn=lambda argv, env, **k: lab.spawn(host, argv, env, **k),
                  run=lambda argv, env, **k: lab.run(host, argv, env, **k), **kw)  # type: ignore[arg-type]


def _own(d: Daemon) -> int:
    return max((s for (o, _e), s in d.vector().items() if o == d.device_id), default=0)


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    k = (len(xs) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def bench_catchup(tmp: Path, n: int) -> list[tuple[str, str, str]]:
    t = time.perf_counter()
    dev, ep = build_replica(tmp / "src", n, seed=1, tag="bench")
    build_s = time.perf_counter() - t
    print(f"  source replica: {n:,} records via meshd.store in {build_s:.1f} s", file=sys.stderr)
    provision([tmp / "src", tmp / "dst"])
    with Lab(1) as lab:
        src = _daemon(lab, "a", tmp / "src", [tmp / "c-src"], f"127.0.0.1:{PORT}", mdns=False, sync_interval=None)
        src.start(timeout=120)
        total = _own(src)
        dst = _daemon(lab, "a", tmp / "dst", [tmp / "c-dst"], f"127.0.0.1:{PORT + 10}", mdns=False,
                      peers=[f"127.0.0.1:{PORT}"], sync_interval=None)
        t0 = time.perf_counter()
        dst.start(timeout=120)
        t_ready = time.perf_counter()
        t_first = None
        while True:
            h = vector(dst.home).get((dev, ep), 0)
            now = time.perf_counter()
            if h and t_first is None:
                t_first = now
            if h >= total:
                break
            if now - t_ready > 600:
                raise SystemExit(f"catch-up did not finish in 600 s (held {h} of {total})")
            time.sleep(0.02)
        t_done = time.perf_counter()
        rss = _rss_kb(dst.proc.pid) / 1024
        # Queryable, not just stored: the vector advances in the transaction that materializes
        # the usage rows and rollup buckets, so both hold every record by now.
        conn = _ro_conn(dst.home)
        rows, rolled = conn.execute("SELECT (SELECT COUNT(*) FROM usage WHERE winner = 1),"
                                    " (SELECT SUM(n) FROM rollup)").fetchone()
        conn.close()
        if rows != n or rolled != n:
            raise SystemExit(f"catch-up: {rows} winning usage rows and {rolled} in rollup, want {n}")
        dst.stop()
        src.stop()
    rows = [
        ("catch-up, records (usage rows + rollup checked)", f"{total:,}", ""),
        ("catch-up, from ready line", f"{t_done - t_ready:.2f} s = {total / (t_done - t_ready):,.0f} rec/s",
         "1 M in < 10 s; ≥ 100 k rec/s"),
        ("catch-up, from first batch", f"{t_done - (t_first or t_ready):.2f} s = "
         f"{total / max(t_done - (t_first or t_ready), 1e-9):,.0f} rec/s", ""),
        ("catch-up, daemon start to ready", f"{t_ready - t0:.2f} s", ""),
        ("catch-up, receiver RSS after", f"{rss:.0f} MB", ""),
    ]
    return rows


def _ro_conn(home: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(f"file:{home / 'meshd.db'}?mode=ro", uri=True, timeout=10, isolation_level=None)
    conn.execute("PRAGMA busy_timeout=10000")
    return conn


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _cpu_ticks(pid: int) -> int:
    f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12])


def bench_converge_idle(tmp: Path, trials: int, idle_s: float, do_idle: bool) -> list[tuple[str, str, str]]:
    rows: list[tuple[str, str, str]] = []
    folders = _folders(generate(tmp / "hist5", folders=5, sessions=10, lines=20, seed=11))
    with Lab(5) as lab:
        provision([tmp / f"h5-{h}" for h in lab.hosts])
        ds = [_daemon(lab, h, tmp / f"h5-{h}", [f], lab.addr(h, PORT), sync_interval=None)
              for h, f in zip(lab.hosts, folders)]
        for d in ds:
            d.start(timeout=60)
        _wait_converged(ds, 120)
        conns = [_ro_conn(d.home) for d in ds]

        def vec(j: int) -> dict[tuple[str, int], int]:
            return {(o, int(e)): int(q) for o, e, q in conns[j].execute("SELECT origin, epoch, max_seq FROM vector")}

        lat: list[float] = []
        ingest: list[float] = []
        repl: list[float] = []
        rng = random.Random(5)
        for i in range(trials):
            d = ds[i % len(ds)]
            want = _own(d) + 1
            t0 = time.perf_counter()
            append_claude_lines(d.claude[0], 1, seed=1000 + i, tag=f"t{i}")
            t_local = None
            key = None
            while True:
                now = time.perf_counter()
                if t_local is None:
                    key = next((k for k, q in vec(i % len(ds)).items() if k[0] == d.device_id and q >= want), None)
                    if key is not None:
                        t_local = now
                if key is not None and all(vec(j).get(key, 0) >= want for j in range(len(ds))):
                    break
                if now - t0 > 60:
                    raise SystemExit(f"trial {i}: not converged in 60 s")
                time.sleep(0.01)
            lat.append(now - t0)
            ingest.append(t_local - t0)
            repl.append(now - t_local)
            time.sleep(rng.uniform(0.2, 1.2))  # random phase against the daemons' 1 s ingest poll
        rows += [
            ("convergence, 5 daemons, trials", str(trials), ""),
            ("convergence p50 / p95 / max", f"{pct(lat, .5) * 1000:.0f} / {pct(lat, .95) * 1000:.0f} / "
             f"{max(lat) * 1000:.0f} ms", "p95 ≤ 1 s"),
            ("  local ingest (write to own log) p50 / p95",
             f"{pct(ingest, .5) * 1000:.0f} / {pct(ingest, .95) * 1000:.0f} ms", ""),
            ("  replication (own log to all 5) p50 / p95",
             f"{pct(repl, .5) * 1000:.0f} / {pct(repl, .95) * 1000:.0f} ms", ""),
        ]
        for c in conns:
            c.close()
        if do_idle:
            time.sleep(5)
            hz = os.sysconf("SC_CLK_TCK")
            pids = [d.proc.pid for d in ds]
            c0 = [_cpu_ticks(p) for p in pids]
            t0 = time.perf_counter()
            rss = [0] * len(pids)
            tx0 = _eth_bytes(lab, lab.hosts)
            while time.perf_counter() - t0 < idle_s:
                rss = [max(r, _rss_kb(p)) for r, p in zip(rss, pids)]
                time.sleep(1)
            dt = time.perf_counter() - t0
            tx1 = _eth_bytes(lab, lab.hosts)
            cpu = [(_cpu_ticks(p) - c) / hz / dt * 100 for p, c in zip(pids, c0)]
            rows += [
                (f"idle RSS over {idle_s:.0f} s (max of 5)", f"{max(rss) / 1024:.0f} MB "
                 f"(min {min(rss) / 1024:.0f})", "< 80 MB"),
                (f"idle CPU over {idle_s:.0f} s (max of 5)", f"{max(cpu):.2f} % of a core "
                 f"(mean {statistics.mean(cpu):.2f})", "< 1 %"),
                ("idle traffic, 5-mesh, default interval", f"{(tx1 - tx0) / dt / len(pids):,.0f} B/s per host "
                 "(sent+received, incl. mDNS)", ""),
            ]
    return rows


def _eth_bytes(lab: Lab, hosts: list[str]) -> int:
    total = 0
    for h in hosts:
        p = lab.run(h, ["cat", "/sys/class/net/eth0/statistics/tx_bytes", "/sys/class/net/eth0/statistics/rx_bytes"])
        total += sum(int(x) for x in p.stdout.split())
    return total


def _wait_converged(ds: list[Daemon], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        vs = [d.vector() for d in ds]
        if vs[0] and all(v == vs[0] for v in vs) and {d.device_id for d in ds} <= {o for o, _ in vs[0]}:
            return
        time.sleep(0.2)
    raise SystemExit("daemons did not converge: " + "; ".join(f"{d.name}={len(d.vector())} logs" for d in ds))


def bench_bytes(tmp: Path, seconds: float, capture: bool = False) -> list[tuple[str, str, str]]:
    folders = _folders(generate(tmp / "hist2", folders=2, sessions=4, lines=20, seed=12))
    interval = 1.0
    with Lab(2) as lab:
        provision([tmp / "b2-a", tmp / "b2-b"])
        a = _daemon(lab, "a", tmp / "b2-a", [folders[0]], lab.addr("a", PORT), mdns=False,
                    peers=[lab.addr("b", PORT)], sync_interval=interval)
        b = _daemon(lab, "b", tmp / "b2-b", [folders[1]], lab.addr("b", PORT), mdns=False,
                    peers=[lab.addr("a", PORT)], sync_interval=interval)
        a.start(timeout=60)
        b.start(timeout=60)
        _wait_converged([a, b], 60)
        time.sleep(3)
        x0, t0 = _eth_bytes(lab, ["a"]), time.perf_counter()
        time.sleep(seconds)
        x1, dt = _eth_bytes(lab, ["a"]), time.perf_counter() - t0
        if capture:  # what the rounds are made of, packet by packet (bench/wire_capture.py)
            p = lab.run("a", [sys.executable, str(ROOT / "bench" / "wire_capture.py"), "3", lab.ip("a")], timeout=60)
            print(f"--- 3 s of host a's link, idle, 1 s interval:\n{p.stdout}{p.stderr}", file=sys.stderr)
        per_s = (x1 - x0) / dt
        rounds_per_s = 2 / interval  # a starts one round with b, and b one with a, each interval
        rows = [("idle bytes per push-pull round (2 peers, 1 s interval)",
                 f"{per_s / rounds_per_s:,.0f} B ({per_s:,.0f} B/s on the link)", "< 2 KB per peer")]
        a.stop()
        b.stop()
    # Explicit rounds with no background rounds: a long interval, then `meshctl sync` on a.
    with Lab(2) as lab:
        provision([tmp / "b3-a", tmp / "b3-b"])
        a = _daemon(lab, "a", tmp / "b3-a", [folders[0]], lab.addr("a", PORT), mdns=False,
                    peers=[lab.addr("b", PORT)], sync_interval=3600)
        b = _daemon(lab, "b", tmp / "b3-b", [folders[1]], lab.addr("b", PORT), mdns=False,
                    peers=[lab.addr("a", PORT)], sync_interval=3600)
        a.start(timeout=60)
        b.start(timeout=60)
        _wait_converged([a, b], 60)
        time.sleep(2)
        x0, t0 = _eth_bytes(lab, ["a"]), time.perf_counter()
        time.sleep(5)
        noise = (_eth_bytes(lab, ["a"]) - x0) / (time.perf_counter() - t0)
        n = 10
        x0, t0 = _eth_bytes(lab, ["a"]), time.perf_counter()
        ok = sum(a.meshctl("sync", check=False).returncode == 0 for _ in range(n))
        x1, dt = _eth_bytes(lab, ["a"]), time.perf_counter() - t0
        rows.append(("bytes per explicit `meshctl sync` round, idle", f"{(x1 - x0) / n:,.0f} B "
                     f"({ok}/{n} ok; background {noise:,.0f} B/s)", "< 2 KB per peer"))
        a.stop()
        b.stop()
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--trials", type=int, default=30)
    ap.add_argument("--idle", type=float, default=60.0)
    ap.add_argument("--bytes-seconds", type=float, default=20.0)
    ap.add_argument("--only", default="catchup,converge,idle,bytes")
    ap.add_argument("--keep", type=Path, help="keep homes and daemon logs here")
    ap.add_argument("--capture", action="store_true", help="print 3 s of packets of the idle bytes run")
    ap.add_argument("--json", type=Path, help="also write the rows here as JSON: what, measured, target, and "
                    "the numbers in `measured` in order")
    a = ap.parse_args()
    reason = unavailable_reason()
    if reason:
        raise SystemExit(f"mesh_bench: {reason}")
    only = set(a.only.split(","))
    tmp = a.keep or Path(tempfile.mkdtemp(prefix="meshbench-"))
    tmp.mkdir(parents=True, exist_ok=True)
    rows: list[tuple[str, str, str]] = []
    try:
        if "catchup" in only:
            rows += bench_catchup(tmp, a.records)
        if "converge" in only or "idle" in only:
            rows += bench_converge_idle(tmp, a.trials, a.idle, "idle" in only)
        if "bytes" in only:
            rows += bench_bytes(tmp, a.bytes_seconds, a.capture)
    finally:
        if a.keep is None:
            shutil.rmtree(tmp, ignore_errors=True)
    w = max(len(r[0]) for r in rows)
    v = max(len(r[1]) for r in rows)
    print(f"{'what':<{w}}  {'measured':<{v}}  target")
    for name, val, target in rows:
        print(f"{name:<{w}}  {val:<{v}}  {target}")
    if a.json:
        import json
        import re

        def numbers(text: str) -> list[float]:
            return [float(x.replace(",", "")) for x in re.findall(r"\d[\d,]*(?:\.\d+)?", text)]

        a.json.write_text(json.dumps([{"what": n, "measured": v, "target": t, "numbers": numbers(v)}
                                      for n, v, t in rows], indent=1, ensure_ascii=False, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
