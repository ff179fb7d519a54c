"""Background WAL checkpoints (store/checkpoint.py) on real SQLite files."""

from __future__ import annotations

from pathlib import Path

import pytest

from meshd.store.checkpoint import Checkpointer
from meshd.store.db import connect


def _fill(conn, n_bytes: int) -> None:  # type: ignore[no-untyped-def]
    conn.execute("CREATE TABLE IF NOT EXISTS t(x BLOB)")
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO t VALUES(?)", [(b"x" * 4000,)] * (n_bytes // 4000))
    conn.execute("COMMIT")


def test_checkpoints_in_the_background_once_the_wal_is_large(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    conn = connect(db)
    conn.execute("PRAGMA wal_autocheckpoint=0")
    ck = Checkpointer(db, threshold=1 << 20)
    _fill(conn, 200_000)
    ck.maybe()  # WAL under the threshold: nothing to do
    assert ck._pending is None
    _fill(conn, 2 << 20)
    assert (tmp_path / "a.db-wal").stat().st_size > 1 << 20
    ck.maybe()
    ck.close(wait=True)
    busy, frames, done = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    assert (busy, frames) == (0, done) and frames > 0
    assert db.stat().st_size > 2 << 20  # the pages reached the database file
    ck.maybe()  # after close: ignored, never raises
    conn.close()


def test_a_failed_checkpoint_is_logged_not_raised(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    db = tmp_path / "gone" / "a.db"  # no such folder: connect fails in the thread
    ck = Checkpointer(db, threshold=0)
    (tmp_path / "gone").mkdir()
    (tmp_path / "gone" / "a.db-wal").write_bytes(b"\0")  # exists, so maybe() starts one
    (tmp_path / "gone" / "a.db").mkdir()  # a folder where the database should be
    ck.maybe()
    ck.close(wait=True)
    assert "background checkpoint failed" in caplog.text


def test_bulk_ingest_keeps_the_connections_checkpoint_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """meshctl's bulk ingest hands checkpoints to a thread and restores autocheckpoint after;
    the daemon's writer (autocheckpoint 0, its own checkpoint thread) keeps 0."""
    from meshd import app
    from tests.histgen import generate

    generate(tmp_path / "hist", folders=1, sessions=6, lines=40, seed=3)
    roots = [p for p in (tmp_path / "hist").iterdir() if p.is_dir()]
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", ",".join(map(str, roots)))
    monkeypatch.setattr(app, "BULK_BYTES", 1)
    for auto, home in ((1000, "m"), (0, "d")):
        config = app.load_config(tmp_path / home)
        rep = app.open_replica(config)
        rep.conn.execute(f"PRAGMA wal_autocheckpoint={auto}")
        assert app.ingest_local(rep, config).entries > 0
        assert rep.conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == auto
        rep.conn.close()

