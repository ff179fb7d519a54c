"""A cached listing of the Claude `projects/` trees: a folder whose mtime has not changed since it
was listed is not listed again (only stat'ed). Used by the warm report path (meshd/warm.py) to
find every log file; it returns the same paths as `sources.claude_files`.

Why it is exact: creating, deleting or renaming an entry in a folder sets the folder's mtime to
the current time. A cached listing is used only when the folder's (mtime, inode, device) are
what they were when it was listed AND that mtime was older than the listing by more than
`MARGIN_NS` (so no later change can have kept the same timestamp, whatever the file system's
timestamp granularity). A folder changed recently is listed every time until it is older. The
folder is stat'ed before it is read, so a change during the read shows in the next stat.
Limit: this trusts the file system's clock and ours to agree within MARGIN_NS (true for local
file systems; a network share whose server clock lags by more may need `MESHD_NO_LIST_CACHE=1`).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

MARGIN_NS = 5_000_000_000  # 5 s: above every common timestamp granularity (FAT: 2 s)
VERSION = 1

# cache: projects folder path -> (mtime_ns, ino, dev, listed_at_ns, subfolders, .jsonl names)
Entry = tuple[int, int, int, int, tuple[str, ...], tuple[str, ...]]


def load(path: Path) -> dict[str, Entry]:
    """The cache file's entries ({} when missing, unreadable or of another version)."""
    import marshal

    try:
        data = marshal.loads(path.read_bytes())
    except (OSError, EOFError, ValueError, TypeError):
        return {}
    if not isinstance(data, tuple) or len(data) != 2 or data[0] != VERSION or not isinstance(data[1], dict):
        return {}
    return data[1]


def save(path: Path, entries: dict[str, Entry]) -> None:
    """Write the cache atomically; a failure only costs the next run a full listing."""
    import marshal

    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # paths are private, as the database
        with os.fdopen(fd, "wb") as f:
            f.write(marshal.dumps((VERSION, entries)))
        os.replace(tmp, path)
    except OSError:
        try:
            tmp.unlink()
        except OSError:
            pass


def jsonl_paths(projects: str, cache: dict[str, Entry], out: dict[str, Entry]) -> list[str]:
    """Every `*.jsonl` below `projects` except directly in it (as claude_files lists them), unsorted.

    Reads `cache`, records what it saw in `out` (the next run's cache)."""
    now = time.time_ns()
    paths: list[str] = []
    stack = [projects]
    stat = os.stat
    sep = os.sep
    while stack:
        d = stack.pop()
        try:
            st = stat(d)
        except OSError:
            continue  # os.walk skips what it cannot list
        e = cache.get(d)
        if (e is not None and e[0] == st.st_mtime_ns and e[1] == st.st_ino and e[2] == st.st_dev
                and e[0] < e[3] - MARGIN_NS):
            out[d] = e
            subdirs, files = e[4], e[5]
        else:
            listed = _list(d)
            if listed is None:
                continue
            subdirs, files = listed
            out[d] = (st.st_mtime_ns, st.st_ino, st.st_dev, now, subdirs, files)
        if d != projects:  # a file directly in projects/ has no project
            prefix = d + sep
            paths.extend(prefix + name for name in files)
        prefix = d + sep
        stack.extend(prefix + name for name in subdirs)
    return paths


def _list(d: str) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """(subfolders to descend into, *.jsonl names) as os.walk(followlinks=False) sorts entries."""
    subdirs: list[str] = []
    files: list[str] = []
    try:
        with os.scandir(d) as it:
            for entry in it:
                try:
                    is_dir = entry.is_dir()
                except OSError:
                    is_dir = False
                if is_dir:
                    try:
                        link = entry.is_symlink()
                    except OSError:
                        link = False
                    if not link:
                        subdirs.append(entry.name)
                elif entry.name.endswith(".jsonl"):
                    files.append(entry.name)
    except OSError:
        return None
    return tuple(subdirs), tuple(files)
