"""The cached listing of Claude folders (meshd/ingest/listing.py) finds exactly what a full walk finds."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from meshd.ingest import listing
from meshd.ingest.sources import claude_files

OLD = 1_600_000_000_000_000_000  # 2020: an mtime far older than any listing


def walk(root: Path) -> list[str]:
    return sorted(f.path for f in claude_files(root))


def cached(root: Path, cache: dict) -> tuple[list[str], dict]:  # type: ignore[type-arg]
    out: dict = {}  # type: ignore[type-arg]
    paths = listing.jsonl_paths(str(root / "projects"), cache, out)
    assert len(paths) == len(set(paths))
    return sorted(paths), out


def age(root: Path) -> None:
    """Backdate every folder, as if the tree had been written long ago."""
    for d, _dirs, _files in os.walk(root):
        os.utime(d, ns=(OLD, OLD))


def test_random_changes_are_all_seen(tmp_path: Path) -> None:
    rng = random.Random(5)
    root = tmp_path / "claude"
    (root / "projects").mkdir(parents=True)
    (root / "projects" / "top.jsonl").write_text("x\n")  # directly in projects/: no project, never listed
    cache: dict = {}  # type: ignore[type-arg]
    made: list[Path] = []
    for step in range(60):
        age(root)
        got, cache = cached(root, cache)
        assert got == walk(root), step
        assert all(e[0] < e[3] - listing.MARGIN_NS for e in cache.values())  # aged: every folder cached
        again, cache = cached(root, cache)
        assert again == got
        what = rng.choice(["project", "file", "subagent", "remove", "rename", "other", "symlink", "nested"])
        proj = root / "projects" / f"-p{rng.randrange(5)}"
        if what == "project" or not proj.exists():
            proj.mkdir(exist_ok=True)
        if what in ("file", "project"):
            f = proj / f"s{step}.jsonl"
            f.write_text("{}\n")
            made.append(f)
        elif what == "subagent":
            d = proj / f"s{step}" / "subagents"
            d.mkdir(parents=True)
            (d / "agent-1.jsonl").write_text("{}\n")
        elif what == "remove" and made:
            made.pop(rng.randrange(len(made))).unlink(missing_ok=True)
        elif what == "rename" and made:
            f = made.pop(rng.randrange(len(made)))
            if f.exists():
                f.rename(f.with_name(f"r{step}.jsonl"))
        elif what == "other":
            (proj / f"notes{step}.txt").write_text("x")
        elif what == "symlink":
            (proj / f"link{step}.jsonl").symlink_to(tmp_path / "nowhere.jsonl")  # broken: listed, as os.walk does
            (proj / f"dirlink{step}").symlink_to(root / "projects")  # a folder link: not followed
        else:
            deep = proj / "a" / "b" / "c"
            deep.mkdir(parents=True, exist_ok=True)
            (deep / f"d{step}.jsonl").write_text("{}\n")
        got, cache = cached(root, cache)
        assert got == walk(root), (step, what)


def test_a_recently_changed_folder_is_listed_again(tmp_path: Path) -> None:
    """A change that keeps a folder's mtime (same timestamp tick) is still seen while the mtime is recent."""
    proj = tmp_path / "claude" / "projects" / "p"
    proj.mkdir(parents=True)
    (proj / "a.jsonl").write_text("x\n")
    _got, cache = cached(tmp_path / "claude", {})
    st = proj.stat()
    (proj / "b.jsonl").write_text("x\n")
    os.utime(proj, ns=(st.st_atime_ns, st.st_mtime_ns))  # the same mtime as when it was listed
    got, _ = cached(tmp_path / "claude", cache)
    assert got == walk(tmp_path / "claude") and len(got) == 2


def test_what_the_cache_trusts(tmp_path: Path) -> None:
    """An old, unchanged folder is not read again (the speed-up); that is the documented rule."""
    proj = tmp_path / "claude" / "projects" / "p"
    proj.mkdir(parents=True)
    (proj / "a.jsonl").write_text("x\n")
    age(tmp_path / "claude")
    _got, cache = cached(tmp_path / "claude", {})
    (proj / "b.jsonl").write_text("x\n")
    os.utime(proj, ns=(OLD, OLD))  # forged: content changed, mtime put back
    got, _ = cached(tmp_path / "claude", cache)
    assert len(got) == 1


@pytest.mark.parametrize("junk", [b"", b"garbage", b"\x00" * 10, b"\xe3\x01\x00\x00"])
def test_a_broken_cache_file_means_a_full_listing(tmp_path: Path, junk: bytes) -> None:
    f = tmp_path / "listing.cache"
    f.write_bytes(junk)
    assert listing.load(f) == {}
    listing.save(f, {"/x": (1, 2, 3, 4, ("a",), ("b.jsonl",))})
    assert listing.load(f) == {"/x": (1, 2, 3, 4, ("a",), ("b.jsonl",))}
    assert f.stat().st_mode & 0o777 == 0o600
    assert listing.load(tmp_path / "missing") == {}
