"""Wake the daemon's ingest when a local log changes: Linux inotify over ctypes, no polling.

`DirWatcher(tops, on_change)` watches every directory under each top folder (recursively, adding
directories as they appear) and calls `on_change()` on the event loop whenever a file in them is
written, created, moved or removed. It is only a wake-up hint: the daemon still ingests on a slow
poll as a safety net (and everywhere inotify is missing: other platforms, exhausted watch limits),
and ingest itself decides what is new from its cursors.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import errno
import logging
import os
import struct
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

log = logging.getLogger("meshd.watch")

IN_MODIFY = 0x002
IN_CLOSE_WRITE = 0x008
IN_MOVED_FROM = 0x040
IN_MOVED_TO = 0x080
IN_CREATE = 0x100
IN_DELETE = 0x200
IN_DELETE_SELF = 0x400
IN_MOVE_SELF = 0x800
IN_Q_OVERFLOW = 0x4000
IN_IGNORED = 0x8000
IN_ONLYDIR = 0x01000000
IN_ISDIR = 0x40000000
IN_NONBLOCK = 0o4000
IN_CLOEXEC = 0o2000000

MASK = (IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_DELETE_SELF
        | IN_MOVE_SELF | IN_ONLYDIR)
_EVENT = struct.Struct("iIII")  # wd, mask, cookie, len; then `len` bytes of NUL-padded name
MAX_WATCHES = 20_000  # beyond this many folders, rely on the poll (inotify's per-user limit is shared)


class WatchUnavailable(OSError):
    """inotify cannot be used here (not Linux, no libc symbol, limit reached)."""


def _libc():  # type: ignore[no-untyped-def]
    if not sys.platform.startswith("linux"):
        raise WatchUnavailable("inotify is Linux-only")
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    for fn in ("inotify_init1", "inotify_add_watch", "inotify_rm_watch"):
        if not hasattr(libc, fn):
            raise WatchUnavailable(f"libc has no {fn}")
    libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
    libc.inotify_add_watch.restype = ctypes.c_int
    return libc


def parse_events(buf: bytes) -> list[tuple[int, int, bytes]]:
    """(wd, mask, name) of each inotify event in a read() buffer."""
    out = []
    i = 0
    while i + _EVENT.size <= len(buf):
        wd, mask, _cookie, n = _EVENT.unpack_from(buf, i)
        i += _EVENT.size
        out.append((wd, mask, bytes(buf[i:i + n]).rstrip(b"\0")))
        i += n
    return out


class DirWatcher:
    """inotify on every folder under `tops()`; `on_change()` runs on the loop on each change batch."""

    def __init__(self, tops: Callable[[], Iterable[Path]], on_change: Callable[[], None]) -> None:
        self.tops = tops
        self.on_change = on_change
        self.fd = -1
        self.wds: dict[int, bytes] = {}  # watch descriptor -> folder path
        self.paths: set[bytes] = set()
        self._libc = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.full = False  # hit a watch limit: some folders are covered by the poll only

    def start(self) -> None:
        """Open inotify and watch every folder now present; WatchUnavailable when impossible."""
        self._libc = _libc()
        fd = self._libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if fd < 0:
            e = ctypes.get_errno()
            raise WatchUnavailable(e, f"inotify_init1: {os.strerror(e)}")
        self.fd = fd
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(fd, self._readable)
        self.rescan()

    def close(self) -> None:
        if self.fd >= 0:
            if self._loop is not None:
                self._loop.remove_reader(self.fd)
            os.close(self.fd)
            self.fd = -1
        self.wds.clear()
        self.paths.clear()

    @property
    def active(self) -> bool:
        return self.fd >= 0

    def rescan(self) -> int:
        """Watch folders that appeared without an event we saw (new tops, races); returns added."""
        n = 0
        for top in self.tops():
            n += self._add_tree(os.fsencode(top))
        return n

    def _add_tree(self, top: bytes) -> int:
        n = 0
        for dirpath, _dirs, _files in os.walk(top, followlinks=False):
            if self._add(dirpath):
                n += 1
        return n

    def _add(self, path: bytes) -> bool:
        if path in self.paths or self.fd < 0:
            return False
        if len(self.wds) >= MAX_WATCHES:
            self._limit(f"more than {MAX_WATCHES} folders")
            return False
        assert self._libc is not None
        wd = self._libc.inotify_add_watch(self.fd, path, MASK)
        if wd < 0:
            e = ctypes.get_errno()
            if e == errno.ENOSPC:
                self._limit("the system's inotify watch limit (fs.inotify.max_user_watches)")
            elif e not in (errno.ENOENT, errno.ENOTDIR, errno.EACCES):
                log.debug("inotify_add_watch %r: %s", path, os.strerror(e))
            return False
        self.wds[wd] = path
        self.paths.add(path)
        return True

    def _limit(self, why: str) -> None:
        if not self.full:
            self.full = True
            log.warning("file watch: %s reached; the rest is found by the poll", why)

    def _readable(self) -> None:
        try:
            buf = os.read(self.fd, 64 * 1024)
        except BlockingIOError:
            return
        except OSError as e:
            log.warning("file watch: read failed (%s); falling back to the poll", e)
            self.close()
            return
        changed = False
        for wd, mask, name in parse_events(buf):
            if mask & IN_Q_OVERFLOW:
                changed = True
                continue
            if mask & (IN_IGNORED | IN_MOVE_SELF):  # gone or moved away: its path means nothing now
                p = self.wds.pop(wd, None)
                if p is not None:
                    self.paths.discard(p)
                    if mask & IN_MOVE_SELF and self._libc is not None:
                        self._libc.inotify_rm_watch(self.fd, wd)
                changed = changed or bool(mask & IN_MOVE_SELF)
                continue
            changed = True
            if mask & IN_ISDIR and mask & (IN_CREATE | IN_MOVED_TO):
                parent = self.wds.get(wd)
                if parent is not None:
                    self._add_tree(os.path.join(parent, name))  # files made before the watch: ingest walks
        if changed:
            self.on_change()
