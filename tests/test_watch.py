"""The inotify adapter the daemon's ingest wakes on (meshd/ingest/watch.py): real files, real
inotify; folders made after the start are watched too; a missing folder is not an error."""

from __future__ import annotations

import asyncio
import struct
import sys
from pathlib import Path

import pytest

from meshd.ingest import watch

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify is Linux-only")


async def _events(tops, actions, settle: float = 0.3) -> list[int]:  # type: ignore[no-untyped-def]
    """Run each action; the number of on_change calls seen after each."""
    seen: list[int] = [0]
    w = watch.DirWatcher(tops, lambda: seen.__setitem__(0, seen[0] + 1))
    w.start()
    out = []
    try:
        for act in actions:
            before = seen[0]
            act(w)
            deadline = asyncio.get_running_loop().time() + settle
            while seen[0] == before and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.01)
            out.append(seen[0] - before)
    finally:
        w.close()
    assert not w.active
    return out


def test_appends_new_folders_and_files_wake_the_watcher(tmp_path: Path) -> None:
    projects = tmp_path / "claude" / "projects"
    (projects / "p1").mkdir(parents=True)
    f1 = projects / "p1" / "s.jsonl"
    f1.write_text("{}\n")

    def append(w: watch.DirWatcher) -> None:
        with open(f1, "a") as f:
            f.write('{"x": 1}\n')

    def new_nested(w: watch.DirWatcher) -> None:
        (projects / "p2" / "s2" / "subagents").mkdir(parents=True)

    def write_nested(w: watch.DirWatcher) -> None:
        (projects / "p2" / "s2" / "subagents" / "a.jsonl").write_text("{}\n")

    def nothing(w: watch.DirWatcher) -> None:
        pass

    counts = asyncio.run(_events(lambda: [projects, tmp_path / "absent" / "projects"],
                                 [append, new_nested, write_nested, nothing]))
    assert counts[0] >= 1 and counts[1] >= 1 and counts[2] >= 1, counts
    assert counts[3] == 0, "no change, no wake-up"


def test_rescan_picks_up_a_top_folder_that_appears_later(tmp_path: Path) -> None:
    later = tmp_path / "later" / "projects"

    def make(w: watch.DirWatcher) -> None:
        later.mkdir(parents=True)
        assert w.rescan() == 1

    def write(w: watch.DirWatcher) -> None:
        (later / "x.jsonl").write_text("{}\n")

    assert asyncio.run(_events(lambda: [later], [make, write]))[1] >= 1


def test_watch_limit_is_a_warning_not_an_error(tmp_path: Path, monkeypatch, caplog) -> None:  # type: ignore[no-untyped-def]
    for i in range(5):
        (tmp_path / "p" / f"d{i}").mkdir(parents=True)
    monkeypatch.setattr(watch, "MAX_WATCHES", 3)

    async def go() -> watch.DirWatcher:
        w = watch.DirWatcher(lambda: [tmp_path / "p"], lambda: None)
        w.start()
        n = len(w.wds)
        w.close()
        assert n == 3
        return w

    w = asyncio.run(go())
    assert w.full and "poll" in caplog.text


def test_parse_events_handles_names_and_padding() -> None:
    raw = struct.pack("iIII", 1, watch.IN_CREATE | watch.IN_ISDIR, 0, 16) + b"newdir".ljust(16, b"\0")
    raw += struct.pack("iIII", 2, watch.IN_MODIFY, 0, 0)
    assert watch.parse_events(raw) == [(1, watch.IN_CREATE | watch.IN_ISDIR, b"newdir"), (2, watch.IN_MODIFY, b"")]
    assert watch.parse_events(raw[:10]) == []
