"""Incremental ingest of Claude Code logs on real files and a real SQLite replica."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from meshd.config import Config
from meshd.app import ingest_local
from meshd.store.db import connect, init_schema
from meshd.store.replica import Replica

DEV = "e" * 32


def line(i: int, *, mid: str | None = None, rid: str | None = None, out: int = 50, side: bool = False,
         model: str = "claude-sonnet-4-5", ts: str | None = None, **extra: object) -> str:
    d: dict[str, object] = {
        "timestamp": ts or f"2026-01-09T{10 + i // 60 % 10:02d}:{i % 60:02d}:00.000Z",
        "sessionId": "s1",
        "version": "2.0.1",
        "isSidechain": side,
        "type": "assistant",
        "message": {"id": mid if mid is not None else f"msg_{i}", "model": model, "role": "assistant",
                    "usage": {"input_tokens": 100, "output_tokens": out, "cache_read_input_tokens": 7}},
        "requestId": rid if rid is not None else f"req_{i}",
    }
    d.update(extra)
    if mid == "":
        del d["message"]["id"]  # type: ignore[attr-defined]
    return json.dumps(d, separators=(",", ":"))


@pytest.fixture()
def world(tmp_path: Path):
    claude = tmp_path / "claude"
    (claude / "projects" / "proj").mkdir(parents=True)
    home = tmp_path / "home"
    home.mkdir()
    conn = connect(home / "meshd.db")
    init_schema(conn)
    replica = Replica(conn, DEV, 1, lambda e: 0.0)
    config = Config(home=home, claude_dirs=(str(claude),))
    os.environ.pop("CLAUDE_CONFIG_DIR", None)
    return claude / "projects" / "proj", replica, config


def counted(replica: Replica) -> tuple[int, int]:
    n, toks = replica.conn.execute(
        "SELECT COUNT(*), COALESCE(SUM(input + output + cw5 + cw1 + cr), 0) FROM usage WHERE winner=1"
    ).fetchone()
    return n, toks


def test_everything_real_logs_have(world):
    proj, replica, config = world
    lines = [
        line(1),
        line(2, out=10), line(2, out=30), line(2, out=60),  # one response split over several lines
        line(3, side=True),  # sidechain
        line(4, model="<synthetic>"),
        "this is garbage",
        '{"truncated": ',
        json.dumps({"type": "user", "message": {"role": "user", "content": "hi"}}),
        line(5, mid=""),  # no message id: counted, never deduplicated
    ]
    (proj / "s1.jsonl").write_text("\n".join(lines) + "\n" + line(6)[:40])  # partial last line
    sub = proj / "s1" / "subagents"
    sub.mkdir(parents=True)
    (sub / "agent-1.jsonl").write_text(line(7, side=True) + "\n")
    s = ingest_local(replica, config)
    assert s.skipped == 2
    # 1, 2 (best copy), 3, 4, 5, 7 — the partial line waits
    assert counted(replica) == (6, 5 * 157 + (100 + 60 + 7))
    row = replica.conn.execute("SELECT output FROM usage WHERE winner=1 AND dkey LIKE '%msg_2%'").fetchone()
    assert row == (60,)
    sessions = {s for (s,) in replica.conn.execute("SELECT DISTINCT session FROM usage")}
    assert sessions == {"s1"}
    skipped = replica.conn.execute("SELECT skipped, last_skip FROM files WHERE path LIKE '%s1.jsonl'").fetchone()
    assert skipped[0] == 2 and "line 8" in skipped[1]


def test_growing_file_and_partial_line_count_once(world):
    proj, replica, config = world
    f = proj / "s1.jsonl"
    full = line(10)
    f.write_text(line(1) + "\n" + full[:30])
    ingest_local(replica, config)
    assert counted(replica)[0] == 1
    assert ingest_local(replica, config).changed == 0  # nothing new: nothing read
    with f.open("a") as fh:
        fh.write(full[30:] + "\n" + line(11) + "\n")
    ingest_local(replica, config)
    assert counted(replica)[0] == 3
    ingest_local(replica, config)
    assert counted(replica)[0] == 3
    assert replica.vector() == {(DEV, 1): 3}


def test_replaced_shorter_file_counts_nothing_twice(world):
    proj, replica, config = world
    f = proj / "s1.jsonl"
    f.write_text("\n".join([line(1), line(2), line(3, mid=""), line(4)]) + "\n")
    ingest_local(replica, config)
    before = counted(replica)
    tmp = proj / "new.tmp"
    tmp.write_text("\n".join([line(1), line(2), line(3, mid="")]) + "\n")
    os.replace(tmp, f)  # a new inode, shorter
    s = ingest_local(replica, config)
    assert s.changed == 1
    assert counted(replica) == before
    # truncated in place, same inode, then rewritten with the same head plus a new line
    f.write_text("\n".join([line(1), line(2), line(3, mid=""), line(99)]) + "\n")
    ingest_local(replica, config)
    assert counted(replica)[0] == before[0] + 1


def test_hostile_lines_are_skipped_and_counted(world):
    proj, replica, config = world
    bad = [
        line(1).replace('"input_tokens":100', '"input_tokens":null'),
        line(2, version=None),
        json.dumps({"timestamp": "2026-01-09T10:00:00Z", "message": {"id": "x", "usage": {"input_tokens": -5, "output_tokens": 1}}}, separators=(",", ":")),
        json.dumps({"timestamp": "not a date", "message": {"id": "y", "usage": {"input_tokens": 5, "output_tokens": 1}}}, separators=(",", ":")),
        json.dumps({"timestamp": "2026-01-09T10:00:00Z", "message": {"id": "z", "usage": {"input_tokens": "5", "output_tokens": 1}}}, separators=(",", ":")),
        json.dumps({"timestamp": "2026-01-09T10:00:00Z", "message": {"id": "w", "usage": {"input_tokens": 10**30, "output_tokens": 1}}}, separators=(",", ":")),
        '{"message":{"usage":{' + "x" * 1000,
        "\x00\xff\xfe binary",
        "[1,2,3]",
    ]
    big = '{"pad":"' + "a" * (9 << 20) + '"}'  # a 9 MiB line: longer than one read chunk
    (proj / "s1.jsonl").write_text("\n".join(bad + [big, line(5)]) + "\n")
    s = ingest_local(replica, config)
    assert counted(replica)[0] == 1
    assert s.skipped >= 7


def test_two_sources_with_the_same_session_copy(tmp_path: Path, world):
    _proj, replica, _config = world
    roots = []
    for name in ("a", "b"):
        p = tmp_path / name / "projects" / "proj"
        p.mkdir(parents=True)
        (p / "s1.jsonl").write_text("\n".join([line(1), line(2), line(3, mid="")]) + "\n")
        roots.append(str(tmp_path / name))
    ingest_local(replica, Config(home=replica_home(replica), claude_dirs=tuple(roots)))
    # message-id entries dedupe across folders; the id-less line counts once per file, as in ccusage
    assert counted(replica)[0] == 4


def replica_home(replica: Replica) -> Path:
    return Path(replica.conn.execute("PRAGMA database_list").fetchone()[2]).parent


def test_parallel_prefetch_counts_exactly_what_serial_ingest_counts(tmp_path: Path, monkeypatch) -> None:
    """Chunks parsed ahead in worker processes give the same log and totals as serial reading."""
    import meshd.app as app

    from tests.histgen import generate

    h = generate(tmp_path / "hist", folders=2, target_bytes=3 << 20, seed=3)
    runs = (("serial", 1 << 60, 32 << 20, 4 << 20), ("parallel", 0, 64 << 10, 4 << 20),
            ("small-tasks", 0, 32 << 20, 64 << 10))
    totals = [_ingest_totals(tmp_path / name, h, monkeypatch, threshold, limit, task)
              for name, threshold, limit, task in runs]
    assert totals[0] == totals[1] == totals[2]


def _ingest_totals(home: Path, h, monkeypatch, threshold: int, limit: int, task: int):  # type: ignore[no-untyped-def]
    """Everything an ingest leaves: totals, skips, the files table and every record body."""
    import meshd.app as app

    monkeypatch.setattr(app, "PARALLEL_MIN_BYTES", threshold)
    monkeypatch.setattr(app, "PREFETCH_LIMIT", limit)  # small: files take several steps
    monkeypatch.setattr(app, "TASK_BYTES", task)
    home.mkdir()
    conn = connect(home / "meshd.db")
    init_schema(conn)
    r = Replica(conn, DEV, 1, lambda e: 0.0)
    s = ingest_local(r, Config(home=home, claude_dirs=tuple(map(str, h.folders))), parallel=True)
    bodies = sorted(bytes(b) for (b,) in conn.execute("SELECT body FROM log WHERE kind='usage'"))
    return (counted(r), s.entries, s.skipped, r.vector(), bodies,
            conn.execute("SELECT path, offset, lineno, entries, skipped, last_skip FROM files ORDER BY path").fetchall())


_MAIN_PID = os.getpid()
_PARSED_IN_MAIN: list[int] = []


def _slow_worker_task(items, device_id, limit):  # type: ignore[no-untyped-def]
    """app._preparse_task, slow in a worker process: the main process must take tasks over."""
    import time

    from meshd.ingest.tailer import preparse

    if os.getpid() != _MAIN_PID:
        time.sleep(0.2)
    else:
        _PARSED_IN_MAIN.append(len(items))
    return [preparse(lf, cursor, device_id, limit) for lf, cursor in items]


def test_main_process_parses_what_the_worker_has_not_started(tmp_path: Path, monkeypatch) -> None:
    """While it waits for a worker, the main process parses tasks no worker started; same results."""
    import meshd.app as app

    from tests.histgen import generate

    h = generate(tmp_path / "hist", folders=2, target_bytes=2 << 20, seed=5)
    serial = _ingest_totals(tmp_path / "serial", h, monkeypatch, 1 << 60, 32 << 20, 4 << 20)
    monkeypatch.setattr(app, "_preparse_task", _slow_worker_task)
    _PARSED_IN_MAIN.clear()
    stolen = _ingest_totals(tmp_path / "stolen", h, monkeypatch, 0, 32 << 20, 64 << 10)
    assert stolen == serial
    if (os.cpu_count() or 1) > 1:  # one core: no worker, nothing to take over
        assert sum(_PARSED_IN_MAIN) > 0


def test_worker_answers_pack_and_unpack_to_the_same_chunks(tmp_path: Path) -> None:
    """What a worker sends back (marshal) is the very Parsed the main process would have made."""
    import meshd.app as app
    from meshd.ingest.sources import LogFile
    from meshd.ingest.tailer import preparse

    f = tmp_path / "s.jsonl"
    f.write_text("\n".join([line(1), line(2, mid=""), "garbage", line(3, side=True, costUSD=1)]) + "\n")
    lf = LogFile(path=str(f), source=str(tmp_path), project="p", session_id="s")
    want = [preparse(lf, None, DEV, 1 << 20), None]
    missing = LogFile(path=str(tmp_path / "gone.jsonl"), source=str(tmp_path), project="p", session_id="g")
    got = app._unpacked(app._preparse_packed([(lf, None), (missing, None)], DEV, 1 << 20))
    assert got == want and want[0] is not None and len(want[0].rows) == 3 and want[0].skipped == 1


def test_worker_tasks_keep_file_order_and_bounds(monkeypatch) -> None:
    import meshd.app as app
    from meshd.ingest.sources import LogFile

    monkeypatch.setattr(app, "TASK_BYTES", 100)
    monkeypatch.setattr(app, "TASK_FILES", 3)
    monkeypatch.setattr(app, "PREFETCH_LIMIT", 500)
    sizes = [10, 20, 80, 5, 5, 5, 5, 1000, 0, 60, 60]
    todo = [(LogFile(path=f"/p/{i}.jsonl", source="/p", project="p", session_id=str(i)), n) for i, n in enumerate(sizes)]
    tasks = app._tasks(todo)
    assert [lf for t in tasks for lf, _n in t] == [lf for lf, _n in todo]  # every file once, in order
    assert [[n for _lf, n in t] for t in tasks] == [[10, 20], [80, 5, 5], [5, 5], [500], [0, 60], [60]]
    assert app._tasks([]) == []
