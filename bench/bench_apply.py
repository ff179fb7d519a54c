"""In-process catch-up: how fast a fresh replica applies a peer's log (no network, no daemon).

    python bench/bench_apply.py [--records 1000000] [--profile]

Builds a source replica of N usage records through `meshd.store` (as bench/mesh_bench.py does),
reads it back in 1 MiB batches (what the peer stream sends) and applies them, one transaction per
batch, to a fresh replica on disk. Prints records/s for reading and for applying; applied means
queryable: usage rows and rollup buckets materialized, checked against the source at the end.
`--profile` prints the top of a cProfile of the apply phase.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.meshkit import build_replica  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--keep", type=Path, help="reuse/keep the source replica here")
    a = ap.parse_args()

    from meshd.app import open_replica
    from meshd.core.oplog import MAX_BATCH_BYTES
    from meshd.store.replica import transaction

    tmp = a.keep or Path(tempfile.mkdtemp(prefix="meshd-apply-"))
    src_home, dst_home = tmp / "src", tmp / "dst"
    try:
        t = time.perf_counter()
        if not (src_home / "meshd.db").exists():
            build_replica(src_home, a.records, seed=1, tag="bench")
            print(f"source: {a.records:,} records via Replica.append_usage in {time.perf_counter() - t:.1f} s")
        src = open_replica(home=src_home)
        shutil.rmtree(dst_home, ignore_errors=True)
        dst = open_replica(home=dst_home)
        logs = [(o, e, s) for (o, e), s in src.vector().items() if s > 1000]
        t = time.perf_counter()
        batches = []
        for origin, epoch, _top in logs:
            after = 0
            while (b := src.read_after(origin, epoch, after, MAX_BATCH_BYTES - 4096)) is not None:
                batches.append(b)
                after = b.last_seq
        n = sum(len(b.records) for b in batches)
        read_s = time.perf_counter() - t
        prof = None
        if a.profile:
            import cProfile

            prof = cProfile.Profile()
            prof.enable()
        t, cpu = time.perf_counter(), time.process_time()
        for b in batches:
            with transaction(dst.conn):
                dst.apply_batch(b)
        apply_s, apply_cpu = time.perf_counter() - t, time.process_time() - cpu
        if prof is not None:
            import pstats

            prof.disable()
            pstats.Stats(prof).sort_stats("tottime").print_stats(15)
        q = "SELECT COUNT(*), SUM(input + output + cw5 + cw1 + cr) FROM usage WHERE winner = 1"
        r = "SELECT SUM(n), SUM(input + output + cache_create + cache_read) FROM rollup"
        assert dst.conn.execute(q).fetchone() == src.conn.execute(q).fetchone(), "usage differs"
        assert dst.conn.execute(r).fetchone() == src.conn.execute(r).fetchone(), "rollup differs"
        print(f"{n:,} records in {len(batches)} batches of <= 1 MiB")
        print(f"read  (Replica.read_after):  {read_s:6.2f} s = {n / read_s:9,.0f} rec/s")
        print(f"apply (Replica.apply_batch): {apply_s:6.2f} s = {n / apply_s:9,.0f} rec/s"
              f"  (CPU {apply_cpu:.2f} s = {n / apply_cpu:,.0f} rec/s; usage + rollup materialized)")
    finally:
        if a.keep is None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
