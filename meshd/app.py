"""Composition root for one process: config -> database -> replica, plus local ingest."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from meshd.config import Config, ensure_home, load_config
from meshd.core.entry import UsageEntry
from meshd.ingest.sources import LogFile, codex_roots
from meshd.ingest.sources import local_files as _local_files
from meshd.ingest.tailer import (
    CHUNK, GROUP_BYTES, FileResult, Parsed, ingest_file, ingest_group, load_cursors, unchanged,
)
from meshd.store.db import connect, ensure_identity, get_meta, init_schema, set_meta
from meshd.store.replica import Coster, Replica, refresh_rollup, transaction
from meshd.warm import device_info, info_key, pricing_fingerprint  # noqa: F401 (pricing_fingerprint: re-exported)


@dataclass
class IngestSummary:
    files: int = 0
    changed: int = 0
    entries: int = 0
    skipped: int = 0
    bytes_read: int = 0
    seconds: float = 0.0
    roots: list[str] = field(default_factory=list)


def make_coster(home: Path) -> Coster:
    """A function pricing one entry; the price table is parsed on first use only.

    Its `price(model)` attribute gives the rates a model is priced at (None: unknown), so the
    replica can price Claude rows in SQL by the same rule (store/materialize.py).
    """
    table = None
    entry_cost = None
    cache: dict[str, object] = {}

    def price(model: str):  # type: ignore[no-untyped-def]
        nonlocal table, entry_cost
        p = cache.get(model, cache)
        if p is cache:
            if table is None:
                from meshd.core.pricing import entry_cost as _entry_cost
                from meshd.pricing_store import load_price_table

                table, entry_cost = load_price_table(home), _entry_cost
            p = cache[model] = table.lookup(model)
        return p

    def cost(e: UsageEntry) -> float:
        p = price(e.model)
        if p is None:
            return 0.0
        if e.provider == "codex":
            from meshd.core.pricing import codex_entry_cost

            return codex_entry_cost(p, e.input_tokens, e.output_tokens, e.cache_write_5m_tokens,  # type: ignore[arg-type]
                                    e.cache_read_tokens, e.speed)
        return entry_cost(  # type: ignore[misc]
            p, e.input_tokens, e.output_tokens, e.cache_write_5m_tokens, e.cache_write_1h_tokens,  # type: ignore[arg-type]
            e.cache_read_tokens, e.speed,
        )

    cost.price = price  # type: ignore[attr-defined]
    return cost


def open_replica(config: Config | None = None, *, home: Path | None = None) -> Replica:
    """Open (creating if needed) this home's replica, ready for reads and writes."""
    config = config or load_config(home)
    ensure_home(config.home)
    conn = connect(config.db_path)
    stale = init_schema(conn)
    from meshd.identity import default_device_name, device_id_for

    device_id = device_id_for(config.home, config.device_id)
    epoch = ensure_identity(conn, device_id)
    coster, fingerprint = make_coster(config.home), pricing_fingerprint(config.home)
    replica = Replica(conn, device_id, epoch, coster)
    if stale:
        with transaction(conn):
            replica.rebuild()
            set_meta(conn, "pricing", fingerprint)
    if get_meta(conn, "pricing") != fingerprint:
        reprice(replica, fingerprint)
    announce_device(replica, config.device_name or default_device_name())
    return replica


def reprice(replica: Replica, fingerprint: str) -> None:
    """Recompute every row's calculated cost after the price table changed."""
    conn = replica.conn
    with transaction(conn):
        rows = conn.execute(
            "SELECT id, provider, model, input, output, cw5, cw1, cr, speed FROM usage"
        ).fetchall()
        updates = []
        for rid, prov, model, i, o, c5, c1, cr, sp in rows:
            if sp == "fast" and model.endswith("-fast"):
                model = model[: -len("-fast")]  # the stored name is the report label
            e = UsageEntry(0, prov, model, "", "", i, o, c5, c1, cr, speed=sp)
            updates.append((replica.coster(e), rid))
        conn.executemany("UPDATE usage SET cost_calc=? WHERE id=?", updates)
        refresh_rollup(conn, None)
        set_meta(conn, "pricing", fingerprint)


def announce_device(replica: Replica, name: str) -> None:
    """Append a device-info record when name, host, os or version changed."""
    info = device_info(name)
    key = info_key(info)
    conn = replica.conn
    if get_meta(conn, "announced") == key:
        return
    with transaction(conn):
        if get_meta(conn, "announced") == key:
            return
        replica.append_local("device", [orjson.dumps({**info, "at": int(time.time() * 1000)})])
        set_meta(conn, "announced", key)


def local_files(config: Config) -> list[LogFile]:
    """Every log file of every local source."""
    return _local_files(config.claude_dirs, config.codex_dirs)


def ingest_local(
    replica: Replica,
    config: Config,
    progress: Callable[[int, int], None] | None = None,
    *,
    parallel: bool = False,
) -> IngestSummary:
    """Ingest whatever is new in every local source; cheap when nothing changed.

    `parallel` lets a large backlog be parsed in forked worker processes: only for callers with
    no threads to fork (meshctl), never for the daemon.
    """
    t0 = time.perf_counter()
    summary = IngestSummary()
    files = local_files(config)
    summary.files = len(files)
    summary.roots = sorted({f.source for f in files})
    cursors = load_cursors(replica.conn)
    todo: list[tuple[LogFile, int]] = []
    import os

    for lf in files:
        try:
            st = os.stat(lf.path)
        except OSError:
            continue
        cur = cursors.get(lf.path)
        if not unchanged(cur, st, lf.path):
            todo.append((lf, st.st_size - (cur.offset if cur and cur.ino == st.st_ino and st.st_size >= cur.offset else 0)))
    total = sum(n for _, n in todo)
    done = 0

    def tick(n: int) -> None:
        nonlocal done
        done += n
        if progress is not None:
            progress(done, total)

    def count(r: FileResult, files: int) -> None:
        summary.changed += files
        summary.entries += r.entries
        summary.skipped += r.skipped
        summary.bytes_read += r.bytes_read

    # Copies of one session file in several folders (CLAUDE_CONFIG_DIR=a,b) side by side: then they
    # usually share an ingest group, whose duplicates are settled in Python, not against stored rows.
    roots: dict[str, int] = {}
    for lf, _n in todo:
        roots.setdefault(lf.source, len(roots))
    claude_todo = sorted((t for t in todo if t[0].provider == "claude"),
                         key=lambda t: (t[0].path[len(t[0].source):], roots[t[0].source]))
    codex_todo = [t for t in todo if t[0].provider == "codex"]

    # Small files go in groups, one transaction (and one bulk materialization) per group; a file
    # with more than a chunk to read gets transactions of its own, chunk by chunk.
    pending = {lf.path: n for lf, n in claude_todo}
    group: list[tuple[LogFile, Parsed | None]] = []
    group_bytes = 0

    # A bulk ingest (a first one) leaves WAL checkpoints to a thread of their own (store/checkpoint.py),
    # not to its commits; the daemon's writer connection does so always (autocheckpoint 0 already).
    ckpt = None
    auto = replica.conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] if total >= BULK_BYTES else 0
    if auto:
        from meshd.store.checkpoint import Checkpointer

        replica.conn.execute("PRAGMA wal_autocheckpoint=0")
        ckpt = Checkpointer(config.db_path)

    def flush() -> None:
        nonlocal group, group_bytes
        if group:
            r, more = ingest_group(replica, group, progress=tick)
            count(r, len(group))
            for lf in more:
                count(ingest_file(replica, lf, progress=tick), 0)
            if ckpt is not None:
                ckpt.maybe()
        group, group_bytes = [], 0

    try:
        for lf, pre in _prefetched(claude_todo, cursors, replica.device_id, total if parallel else 0):
            n = pending[lf.path]
            if n > CHUNK:
                flush()
                count(ingest_file(replica, lf, progress=tick, pre=pre), 1)
                if ckpt is not None:
                    ckpt.maybe()
                continue
            group.append((lf, pre))
            group_bytes += n
            if group_bytes >= GROUP_BYTES or len(group) >= GROUP_FILES:
                flush()
        flush()
        if codex_todo:  # Codex lines depend on earlier lines of their file: file by file, with state
            from meshd.ingest.codex import CodexChunks, ensure_table, fast_tier

            ensure_table(replica.conn)
            chunks = CodexChunks(fast=fast_tier(codex_roots(configured=config.codex_dirs)))
            for lf, _n in codex_todo:
                count(ingest_file(replica, lf, progress=tick, chunk=chunks), 1)
    finally:
        if ckpt is not None:
            replica.conn.execute(f"PRAGMA wal_autocheckpoint={auto}")
            ckpt.close(wait=True)  # what is left is checkpointed when the connection closes
    summary.seconds = time.perf_counter() - t0
    return summary


GROUP_FILES = 256  # files in one ingest transaction at most
BULK_BYTES = 64 << 20  # new bytes that make an ingest a bulk one


PARALLEL_MIN_BYTES = 48 << 20  # below this a worker's start-up costs more than it saves
PREFETCH_LIMIT = 32 << 20  # bytes of one file parsed ahead in one step
TASK_BYTES = 4 << 20  # new bytes in one worker task: few, large tasks (each costs IPC), yet a short wait
TASK_FILES = 64  # files in one worker task at most
PREFETCH_BYTES = 96 << 20  # new bytes parsed ahead at most (bounds memory; bodies are ~1/6 of it)


def _tasks(todo: list[tuple[LogFile, int]]) -> list[list[tuple[LogFile, int]]]:
    """Consecutive files in tasks of about TASK_BYTES new bytes (a large file is a task alone)."""
    tasks: list[list[tuple[LogFile, int]]] = []
    cur: list[tuple[LogFile, int]] = []
    size = 0
    for lf, n in todo:
        n = min(n, PREFETCH_LIMIT)
        if cur and (size + n > TASK_BYTES or len(cur) >= TASK_FILES):
            tasks.append(cur)
            cur, size = [], 0
        cur.append((lf, n))
        size += n
    if cur:
        tasks.append(cur)
    return tasks


def _preparse_task(items: list[tuple[LogFile, tuple[object, ...] | None]], device_id: str, limit: int
                   ) -> list[Parsed | None]:
    """A worker task: the next chunk of each of its files (tailer.preparse)."""
    from meshd.ingest.tailer import preparse

    return [preparse(lf, cursor, device_id, limit) for lf, cursor in items]


def _preparse_packed(items: list[tuple[LogFile, tuple[object, ...] | None]], device_id: str, limit: int) -> bytes:
    """_preparse_task in a worker, its answer packed with marshal: about 3x cheaper than pickling
    the rows' tuples (the pool then pickles one bytes object)."""
    import marshal

    return marshal.dumps([None if p is None else tuple(getattr(p, f) for f in Parsed.__slots__)
                          for p in _preparse_task(items, device_id, limit)])


def _unpacked(blob: bytes) -> list[Parsed | None]:
    import marshal

    return [None if t is None else Parsed(*t) for t in marshal.loads(blob)]


def _prefetched(todo: list[tuple[LogFile, int]], cursors: dict, device_id: str, total: int):  # type: ignore[no-untyped-def,type-arg]
    """Yield (file, chunk parsed ahead or None), in `todo`'s order; a large backlog is parsed ahead.

    The main process keeps every write (SQLite is single-writer anyway). Files are parsed in
    tasks of several files by worker processes, and by the main process whenever it would
    otherwise wait for one: it takes the last task not yet started (Future.cancel succeeds only
    on those) and parses it itself, so both cores stay busy. A chunk parsed ahead is applied
    only if nothing changed since (tailer.Parsed.matches), so this never changes what is counted.
    """
    import os

    workers = (os.cpu_count() or 1) - 1
    if total < PARALLEL_MIN_BYTES or workers < 1:
        for lf, _n in todo:
            yield lf, None
        return
    import multiprocessing
    from collections import deque
    from concurrent.futures import Future, ProcessPoolExecutor

    def plan(lf: LogFile):  # type: ignore[no-untyped-def]
        c = cursors.get(lf.path)
        return None if c is None else (c.dev, c.ino, c.size, c.mtime_ns, c.offset, c.head, c.lineno)

    def run_here(task):  # type: ignore[no-untyped-def]
        try:
            return _preparse_task([(lf, plan(lf)) for lf, _n in task], device_id, PREFETCH_LIMIT)
        except Exception:  # as for a worker: a failure only costs the speed-up
            return None

    tasks = deque(_tasks(todo))
    # fork: no re-import of __main__ and no start-up cost; callers promise they hold no threads.
    with ProcessPoolExecutor(max_workers=min(workers, 3), mp_context=multiprocessing.get_context("fork"),
                             initializer=_die_with_parent, initargs=(os.getpid(),)) as ex:
        pending: deque = deque()  # type: ignore[type-arg]  # [task, Future | results | None, bytes]
        ahead = 0

        def submit() -> None:
            nonlocal ahead
            while tasks and (ahead < PREFETCH_BYTES or len(pending) < 2):
                task = tasks.popleft()
                try:
                    fut = ex.submit(_preparse_packed, [(lf, plan(lf)) for lf, _n in task], device_id, PREFETCH_LIMIT)
                except Exception:  # a broken pool: the files are read serially instead
                    fut = None
                n = sum(n for _lf, n in task)
                pending.append([task, fut, n])
                ahead += n

        def steal() -> bool:
            """Parse the last task no worker has started, here; False when there is none."""
            for item in reversed(pending):
                fut = item[1]
                if isinstance(fut, Future) and fut.cancel():
                    item[1] = run_here(item[0])
                    return True
            return False

        submit()
        while pending:
            task, got, n = pending[0]
            if isinstance(got, Future):
                while not got.done() and steal():
                    pass
                try:
                    got = _unpacked(got.result())
                except Exception:  # a worker failure only costs the speed-up
                    got = None
            pending.popleft()
            ahead -= n
            submit()
            for i, (lf, _n) in enumerate(task):
                yield lf, None if got is None else got[i]


def _die_with_parent(parent: int) -> None:
    """Parse workers end when meshctl ends, even by SIGKILL: a forked worker holds both ends of
    the pool's pipes, so it would otherwise wait for work forever. Linux: the kernel's parent-death
    signal; elsewhere the pool's own shutdown is all there is."""
    import os
    import signal
    import sys

    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(1)


def open_readonly(config: Config) -> sqlite3.Connection | None:
    """A read-only connection to an existing replica, or None when there is none yet."""
    if not config.db_path.exists():
        return None
    return connect(config.db_path, readonly=True)
