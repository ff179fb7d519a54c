"""The report path's plain classes behave like the dataclasses they replaced (start-up time)."""

from __future__ import annotations

import pickle
import platform
import socket
from pathlib import Path

import pytest

from meshd.config import Config
from meshd.core.entry import UsageRow as ReExported
from meshd.core.row import UsageRow
from meshd.identity import host_name
from meshd.ingest.sources import LogFile
from meshd.query import report_query
from meshd.store import replica, usage
from meshd.warm import device_info


def test_config_is_immutable_and_compares_by_value() -> None:
    a = Config(home=Path("/h"), claude_dirs=("a",))
    assert a == Config(Path("/h"), None, None, ("a",))
    assert a != Config(home=Path("/h"))
    assert a.extra == {} and a.extra is not Config(home=Path("/h")).extra
    assert a.db_path == Path("/h/meshd.db")
    assert "claude_dirs=('a',)" in repr(a)
    with pytest.raises(AttributeError):
        a.home = Path("/x")  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del a.home
    with pytest.raises(TypeError):
        hash(a)
    with pytest.raises(TypeError):
        Config(home=Path("/h"), nonsense=1)  # type: ignore[call-arg]
    import copy

    assert pickle.loads(pickle.dumps(a)) == a == copy.copy(a) == copy.deepcopy(a)


def test_usage_row() -> None:
    r = UsageRow(5, "d", "claude", "m", "p", "s", 1, 2, 3, 4, 0.5)
    assert r.ts_last == 5 and r.count == 1 and r.total_tokens == 10
    assert r == UsageRow(5, "d", "claude", "m", "p", "s", 1, 2, 3, 4, 0.5, ts_last=5)
    assert r != UsageRow(5, "d", "claude", "m", "p", "s", 1, 2, 3, 4, 0.6)
    r.cost += 1
    assert r.cost == 1.5
    assert repr(r).startswith("UsageRow(ts=5, device='d'")
    assert ReExported is UsageRow
    assert pickle.loads(pickle.dumps(r)) == r
    with pytest.raises(TypeError):
        hash(r)
    with pytest.raises(AttributeError):
        r.other = 1  # type: ignore[attr-defined]


def test_log_file_pickles_for_parse_workers() -> None:
    lf = LogFile("/a/b.jsonl", "/a", "p", "b")
    assert pickle.loads(pickle.dumps(lf)) == lf and lf.provider == "claude"
    with pytest.raises(AttributeError):
        lf.path = "x"  # type: ignore[misc]


def test_query_and_filter_replace() -> None:
    q = report_query("daily", cli=True, since="20260101")
    assert q._replace(order="desc").order == "desc" and q.since.isoformat() == "2026-01-01"  # type: ignore[union-attr]
    assert usage.RowFilter(provider="claude")._replace(project="p") == usage.RowFilter(None, None, "claude", None, "p")


def test_bucket_is_the_rollups() -> None:
    assert usage.BUCKET_MS == replica.BUCKET_MS


def test_host_and_os_are_platforms() -> None:
    """What announce_device records, without importing platform or socket on the report path."""
    assert host_name() == socket.gethostname() == platform.node()
    info = device_info("n")
    assert info["host"] == platform.node()
    assert info["os"] == f"{platform.system()} {platform.release()}".strip()
