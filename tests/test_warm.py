"""The warm report path (meshd/warm.py) skips ingesting only when there is provably nothing to read.

A home driven by `python -m meshctl` (warm path) and a twin driven in-process by the full path
(open_replica + ingest_local) see the same changes — a partial line completed, a file grown, a
new file in a new project folder, a file replaced by a shorter one, in different folders — and
must print the same reports byte for byte.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meshd import query
from meshd.app import ingest_local, open_replica
from meshd.config import Config, load_config
from meshd.ingest.tailer import Cursor, unchanged
from meshd.warm import _warm_connection, at_cursor, ingested, settled
from tests.histgen import append_lines, complete_partial_line, generate, replace_with_shorter

NOW = 1_780_000_000_000
REPORTS = (["daily", "--json"], ["blocks", "--json"], ["session", "--json"], ["weekly", "--json", "--breakdown"])


@pytest.fixture()
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    hist = generate(tmp_path / "hist", folders=3, target_bytes=2_500_000, seed=7)
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", hist.claude_config_dir)
    monkeypatch.setenv("TZ", "UTC")
    monkeypatch.delenv("MESHD_HOME", raising=False)
    monkeypatch.delenv("CODEX_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.codex of the machine running the tests
    return hist, tmp_path / "warm", tmp_path / "full"


def cli(home: Path, *argv: str) -> bytes:
    env = dict(os.environ, MESHD_HOME=str(home))
    p = subprocess.run([sys.executable, "-m", "meshctl", *argv], env=env, capture_output=True, timeout=120)
    assert p.returncode == 0, p.stderr.decode()
    return p.stdout


def full_path(home: Path, argv: list[str]) -> bytes:
    """The same report through open_replica + ingest_local (what every report did before the warm path)."""
    config = load_config(home)
    replica = open_replica(config)
    try:
        ingest_local(replica, config)
        data = query.run(replica.conn, query.report_query(argv[0], cli=True), NOW)
    finally:
        replica.conn.close()
    return orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"


def check_same(warm: Path, full: Path) -> None:
    for argv in REPORTS:
        # blocks depend on now: compare blocks with `now` pinned by both sides reading the same rows
        got = cli(warm, *argv)
        want = full_path(full, argv)
        if argv[0] == "blocks":
            got_b, want_b = orjson.loads(got)["blocks"], orjson.loads(want)["blocks"]
            for b in got_b + want_b:  # isActive/burnRate/projection depend on the instant
                b.pop("isActive"), b.pop("burnRate"), b.pop("projection")
            assert got_b == want_b
        else:
            assert got == want, argv


def fresh(home: Path) -> bool:
    conn = _warm_connection(load_config(home))
    if conn is None:
        return False
    conn.close()
    return True


def test_every_change_is_ingested_before_the_report(world) -> None:  # type: ignore[no-untyped-def]
    hist, warm, full = world
    check_same(warm, full)  # first run: the full path on both sides
    assert fresh(warm)
    config = load_config(warm)

    def changed() -> None:
        conn = _warm_connection(config)
        assert conn is None, "a change went unnoticed"
        check_same(warm, full)
        assert fresh(warm)

    by_folder = {f: [p for p in hist.files if str(p).startswith(str(f) + os.sep)] for f in hist.folders}

    def pick(folder: int, n: int) -> Path:
        files = by_folder[hist.folders[folder]]
        return files[n % len(files)]

    partial = hist.partial_files[0]
    assert complete_partial_line(partial)
    changed()
    append_lines(pick(2, 3), 4)  # a file grows
    changed()
    new_dir = hist.folders[1] / "projects" / "-home-carol-src-new"  # a new project folder with a new file
    new_dir.mkdir()
    new_file = new_dir / f"{uuid.uuid4()}.jsonl"
    shutil.copyfile(pick(0, 0), new_file)
    complete_partial_line(new_file)
    append_lines(new_file, 3)
    changed()
    sub = new_dir / new_file.stem / "subagents"  # a subagent file deep down
    sub.mkdir(parents=True)
    shutil.copyfile(new_file, sub / "agent-1.jsonl")
    append_lines(sub / "agent-1.jsonl", 2)
    changed()
    replace_with_shorter(pick(0, 1))  # replaced by a shorter file (new inode)
    changed()
    victim = pick(2, 0)  # the same size and mtime, another inode
    st = victim.stat()
    twin = victim.with_name(victim.name + ".tmp")  # made while the old file exists: its inode differs
    twin.write_bytes(victim.read_bytes())
    os.utime(twin, ns=(st.st_atime_ns, st.st_mtime_ns))
    os.replace(twin, victim)
    assert victim.stat().st_ino != st.st_ino
    changed()


def test_a_line_after_the_cursor_is_noticed_without_a_size_change(world) -> None:  # type: ignore[no-untyped-def]
    """A crash between two chunks can leave complete lines after the cursor of an unchanged file."""
    hist, warm, _full = world
    cli(warm, "daily", "--json")
    config = load_config(warm)
    conn = _warm_connection(config)
    assert conn is not None
    path = str(hist.files[0])
    size = os.path.getsize(path)
    with conn:
        conn.execute("UPDATE files SET offset = ? WHERE path = ?", (size // 2, path))
    assert not ingested(conn, config)
    conn.close()


def test_settled_notices_what_open_replica_would_change(world, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    _hist, warm, _full = world
    cli(warm, "daily", "--json")
    assert fresh(warm)
    monkeypatch.setenv("MESHD_DEVICE_NAME", "renamed")  # a new device name to announce
    assert not fresh(warm)
    cli(warm, "daily", "--json")
    assert fresh(warm)
    monkeypatch.delenv("MESHD_DEVICE_NAME")
    (warm / "config.toml").write_text('device_name = "laptop"\n')
    assert not fresh(warm)
    cli(warm, "daily", "--json")
    assert fresh(warm)
    shutil.copyfile(Path(__file__).parent.parent / "meshd" / "data" / "pricing.json", warm / "pricing.json")
    assert not fresh(warm)  # a user price file: rows are repriced
    cli(warm, "daily", "--json")
    assert fresh(warm)
    (warm / "config.toml").write_text('device_id = "' + "ab" * 16 + '"\n')
    assert not fresh(warm)  # another device id: a new epoch
    cli(warm, "daily", "--json")
    assert fresh(warm)
    conn = _warm_connection(load_config(warm))
    assert conn is not None
    conn.execute("UPDATE meta SET value = '1' WHERE key = 'schema'")
    assert not settled(conn, load_config(warm))
    conn.close()


def test_the_warm_path_writes_nothing(world) -> None:  # type: ignore[no-untyped-def]
    _hist, warm, _full = world
    cli(warm, "daily", "--json")
    conn = _warm_connection(load_config(warm))
    assert conn is not None
    before = (conn.execute("SELECT COUNT(*) FROM log").fetchone(), conn.execute("SELECT * FROM meta").fetchall())
    conn.close()
    for argv in REPORTS:
        cli(warm, *argv)
    conn = _warm_connection(load_config(warm))
    assert conn is not None
    assert (conn.execute("SELECT COUNT(*) FROM log").fetchone(), conn.execute("SELECT * FROM meta").fetchall()) == before
    conn.close()


def test_no_database_takes_the_full_path(tmp_path: Path) -> None:
    assert _warm_connection(Config(home=tmp_path / "none")) is None


@settings(max_examples=300, deadline=None)
@given(content=st.binary(max_size=64), cut=st.integers(0, 70), nudge=st.sampled_from(
    ["", "dev", "ino", "size", "mtime"]))
def test_at_cursor_is_tailer_unchanged(tmp_path_factory: pytest.TempPathFactory, content: bytes, cut: int,
                                       nudge: str) -> None:
    path = tmp_path_factory.mktemp("f") / "s.jsonl"
    path.write_bytes(content)
    st_ = os.stat(path)
    fields = {"dev": st_.st_dev, "ino": st_.st_ino, "size": st_.st_size, "mtime": st_.st_mtime_ns}
    if nudge:
        fields[nudge] += 1
    cur = Cursor(fields["dev"], fields["ino"], fields["size"], fields["mtime"], cut, "", 0)
    row = (cur.dev, cur.ino, cur.size, cur.mtime_ns, cur.offset)
    assert at_cursor(row, st_, str(path)) == unchanged(cur, st_, str(path))


@pytest.mark.parametrize("no_cache", ["", "1"])
def test_local_paths_are_local_files(world, monkeypatch: pytest.MonkeyPatch, no_cache: str) -> None:  # type: ignore[no-untyped-def]
    from meshd.ingest.sources import local_files
    from meshd.warm import local_paths

    _hist, warm, _full = world
    monkeypatch.setenv("MESHD_NO_LIST_CACHE", no_cache)
    config = Config(home=warm)
    warm.mkdir()
    want = sorted(f.path for f in local_files(None, None))
    for _ in range(2):  # without and with the cache file
        assert sorted(local_paths(config)) == want
    assert (warm / "listing.cache").exists() == (not no_cache)


def test_fast_exit_keeps_output_exit_code_and_a_tidy_database(world) -> None:  # type: ignore[no-untyped-def]
    """Report commands end with os._exit (cli/entry.py): the whole output still arrives, through a
    pipe too; a reader that goes away early is no error; a bad option keeps its exit code; and the
    first ingest's WAL is checkpointed by the time the process is gone (nothing left to redo)."""
    _hist, home, _full = world
    env = dict(os.environ, MESHD_HOME=str(home))
    first = subprocess.run([sys.executable, "-m", "meshctl", "daily", "--json"], env=env, capture_output=True,
                           timeout=120)
    assert first.returncode == 0, first.stderr.decode()
    assert orjson.loads(first.stdout)["daily"]
    assert not (home / "meshd.db-wal").exists() or (home / "meshd.db-wal").stat().st_size == 0
    # A reader that stops after 10 bytes.
    p = subprocess.Popen([sys.executable, "-m", "meshctl", "session", "--json"], env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    assert p.stdout is not None and len(p.stdout.read(10)) == 10
    p.stdout.close()
    assert p.wait(timeout=60) == 0
    assert b"Traceback" not in (p.stderr.read() if p.stderr else b"")
    bad = subprocess.run([sys.executable, "-m", "meshctl", "daily", "--device", "nosuch"], env=env,
                         capture_output=True, timeout=60)
    assert bad.returncode == 1 and bad.stderr.startswith(b"meshctl: error:")
