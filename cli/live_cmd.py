"""`meshctl status --live` / `meshctl blocks --live`: the full-screen monitor's loop.

The loop owns the terminal (alternate screen, hidden cursor, no echo, no auto-wrap) and gives it
back on every way out: `q`, Ctrl-C, SIGTERM/SIGHUP, an exception. It sleeps in one `select()` on
stdin, a signal wake-up pipe (SIGWINCH) and the feed's wake-up pipe, so an idle view costs a
redraw of the clock line per second and a `PRAGMA data_version` per poll.

Feeds: with a daemon, the daemon ingests and gossips; we re-read the replica when SQLite says
another connection committed (and ask the daemon for its peers every few seconds). Without a
daemon we ingest local logs ourselves every few seconds, as every meshctl report does first.
Without a terminal on stdout the view prints one snapshot, uncoloured, and returns.
"""

from __future__ import annotations

import os
import select
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from meshd.core import live as L

POLL_S = 1.0  # data_version check (cheap: one pragma)
INGEST_S = 2.0  # without a daemon: look for new local log lines this often at least...
INGEST_BUDGET = 0.01  # ...and rarer when one look costs more than 1 % of a core (many log files)
REREAD_S = 15.0  # re-read even when nothing changed (blocks start and end with the clock)
PEERS_S = 5.0  # ask the daemon for its peer table


def color_level(env: dict[str, str] | os._Environ[str], isatty: bool) -> str:
    """The colour capability to render with: none, 16, 256 or truecolor (NO_COLOR always wins)."""
    if env.get("NO_COLOR"):
        return "none"
    if env.get("FORCE_COLOR") not in (None, "", "0"):
        isatty = True
    term = env.get("TERM", "")
    if not isatty or term in ("dumb", ""):
        return "none" if not isatty or term == "dumb" else "16"
    if env.get("COLORTERM", "").lower() in ("truecolor", "24bit"):
        return "truecolor"
    if "256color" in term:
        return "256"
    return "16"


def can_unicode(stream: Any) -> bool:
    enc = getattr(stream, "encoding", None) or "ascii"
    try:
        "█░─●·–→×".encode(enc)
    except (UnicodeEncodeError, LookupError):
        return False
    return True


class Feed:
    """Builds snapshots from this home's replica; knows whether a daemon runs and who its peers are."""

    def __init__(self, config: Any, replica: Any, tz: Any, mode: str, session_hours: float) -> None:
        from meshd.store.live import data_version

        self.config = config
        self.replica = replica
        self.tz = tz
        self.mode = mode
        self.hours = session_hours
        self._data_version = data_version
        self.version = -1
        self.last_read = 0.0
        self.last_ingest = time.monotonic()
        self.ingest_every = INGEST_S
        self.last_peers = -PEERS_S
        self.daemon = False
        self.peers: tuple[L.Peer, ...] | None = None
        self.snapshot: L.Snapshot | None = None
        self.errors: list[str] = []

    def _socket_exists(self) -> bool:
        from meshd.config import socket_path

        return socket_path(self.config.home).exists()

    def refresh_peers(self, now_ms: int) -> bool:
        """Ask the daemon (if any) for its peers; True when daemon/peers changed."""
        self.last_peers = time.monotonic()
        before = (self.daemon, self.peers)
        if not self._socket_exists():
            self.daemon, self.peers = False, None
            return before != (self.daemon, self.peers)
        from meshctl.devices_cmd import _daemon_peers
        from meshd.store.usage import device_names

        peers = _daemon_peers(self.config.home)
        if peers is None:
            self.daemon, self.peers = False, None
        else:
            names = device_names(self.replica.conn)
            out = []
            for did, info in peers.items():
                if not did:
                    continue
                out.append(L.Peer(names.get(did, did[:8]), did, info["state"], info.get("lastSuccessMs"),
                                  info.get("address") or "", info.get("lastError") or ""))
            out.sort(key=lambda p: (p.state != "online", p.name))
            self.daemon, self.peers = True, tuple(out)
        return before != (self.daemon, self.peers)

    def tick(self, now_ms: int, *, force: bool = False) -> bool:
        """Re-read when something changed (or it is time to); True when the snapshot changed."""
        mono = time.monotonic()
        changed = force
        if mono - self.last_peers >= PEERS_S:
            changed |= self.refresh_peers(now_ms)
        if not self.daemon and mono - self.last_ingest >= self.ingest_every:
            from meshd.app import ingest_local

            t0 = time.process_time()
            try:
                changed |= ingest_local(self.replica, self.config).entries > 0
                self.errors = []
            except Exception as e:  # a vanished folder, a locked db: show it, keep running
                self.errors = [f"ingest: {type(e).__name__}: {e}"]
            self.ingest_every = max(INGEST_S, (time.process_time() - t0) / INGEST_BUDGET)
            self.last_ingest = time.monotonic()
        v = self._data_version(self.replica.conn)
        if v != self.version:
            self.version = v
            changed = True
        if changed or mono - self.last_read >= REREAD_S or self.snapshot is None:
            self.read(now_ms)
            return True
        return False

    def read(self, now_ms: int) -> L.Snapshot:
        from meshd.store.live import read_snapshot

        self.last_read = time.monotonic()
        snap = read_snapshot(self.replica.conn, device_id=self.replica.device_id, now_ms=now_ms, tz=self.tz,
                             mode=self.mode, session_hours=self.hours)
        self.snapshot = replace(snap, daemon=self.daemon, peers=self.peers,
                                feed="daemon" if self.daemon else "poll", notes=tuple(self.errors))
        return self.snapshot


class Terminal:
    """Raw-ish terminal for the view: restores termios, cursor, wrap and the main screen on exit."""

    ENTER = "\x1b[?1049h\x1b[?25l\x1b[?7l\x1b[H\x1b[2J"
    LEAVE = "\x1b[0m\x1b[H\x1b[2J\x1b[?7h\x1b[?25h\x1b[?1049l"  # an empty alt screen first (tmux resize quirk)

    def __init__(self, out: Any, infd: int | None) -> None:
        self.out = out
        self.infd = infd
        self.saved: Any = None
        self.prev: list[str] = []
        self.size = (0, 0)

    def __enter__(self) -> Terminal:
        if self.infd is not None:
            import termios
            import tty

            try:
                self.saved = termios.tcgetattr(self.infd)
                tty.setcbreak(self.infd, termios.TCSANOW)  # keys one by one, no echo; Ctrl-C still signals
            except termios.error:
                self.saved = None
        self.write(self.ENTER)
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.write(self.LEAVE)
        except OSError:
            pass
        if self.saved is not None:
            import termios

            try:
                termios.tcsetattr(self.infd, termios.TCSADRAIN, self.saved)
            except termios.error:
                pass

    def write(self, s: str) -> None:
        self.out.write(s)
        self.out.flush()

    def draw(self, lines: list[str], size: tuple[int, int]) -> None:
        """Write only the rows that changed; a new size clears and redraws everything."""
        buf = []
        if size != self.size:
            self.size = size
            self.prev = []
            buf.append("\x1b[H\x1b[2J")
        for i, line in enumerate(lines):
            if i < len(self.prev) and self.prev[i] == line:
                continue
            buf.append(f"\x1b[{i + 1};1H{line}\x1b[0m\x1b[K")
        for i in range(len(lines), len(self.prev)):
            buf.append(f"\x1b[{i + 1};1H\x1b[K")
        self.prev = list(lines)
        if buf:
            self.write("".join(buf))


def terminal_size(fd: int) -> tuple[int, int]:
    try:
        sz = os.get_terminal_size(fd)
        return max(1, sz.columns), max(1, sz.lines)
    except OSError:
        return 80, 24


def run(ctx: Any, *, tz_name: str | None, mode: str | None, compact: bool, session_hours: float = 5.0) -> None:
    """Open the replica (ingesting first) and show the monitor until `q`, Ctrl-C or a signal."""
    from meshd.clock import now_ms
    from meshd.core.periods import resolve_tz

    from meshctl import live_view
    from meshctl.common import open_and_ingest

    config, replica = open_and_ingest(ctx)
    feed = Feed(config, replica, resolve_tz(tz_name or config.timezone), mode or config.cost_mode, session_hours)
    out = sys.stdout
    if not out.isatty():  # `| cat`: one snapshot, no colour, the terminal's width if known
        from meshctl.render import term_width

        feed.tick(now_ms(), force=True)
        assert feed.snapshot is not None
        lines = live_view.render(feed.snapshot, term_width(), 500, "none", now_ms(), compact=compact,
                                 unicode=can_unicode(out))
        out.write("\n".join(lines) + "\n")
        out.flush()
        return
    color = color_level(os.environ, True)
    uni = can_unicode(out)
    infd = sys.stdin.fileno() if sys.stdin is not None and sys.stdin.isatty() else None
    outfd = out.fileno()
    _loop(feed, out, infd, outfd, lambda snap, w, h, now: live_view.render(
        snap, w, h, color, now, compact=compact, unicode=uni), now_ms)


def _loop(feed: Feed, out: Any, infd: int | None, outfd: int,
          render: Callable[[L.Snapshot, int, int, int], list[str]], clock: Callable[[], int]) -> None:
    rpipe, wpipe = os.pipe()
    os.set_blocking(wpipe, False)
    os.set_blocking(rpipe, False)
    old_wakeup = signal.set_wakeup_fd(wpipe, warn_on_full_buffer=False)
    resized = [True]

    def on_winch(_signo: int, _frame: object) -> None:
        resized[0] = True

    def on_term(signo: int, _frame: object) -> None:
        raise SystemExit(128 + signo)

    handlers = {signal.SIGWINCH: on_winch, signal.SIGTERM: on_term, signal.SIGHUP: on_term}
    old = {s: signal.signal(s, h) for s, h in handlers.items()}
    try:
        with Terminal(out, infd) as term:
            feed.tick(clock(), force=True)
            next_poll = time.monotonic()
            while True:
                now = clock()
                if time.monotonic() >= next_poll:
                    feed.tick(now)
                    next_poll = time.monotonic() + POLL_S
                w, h = terminal_size(outfd)
                if resized[0]:
                    resized[0] = False
                    term.size = (0, 0)  # full redraw
                assert feed.snapshot is not None
                term.draw(render(feed.snapshot, w, h, now), (w, h))
                # sleep until the next whole second (the clock line) or a key / signal
                timeout = min(max(0.05, 1.0 - (clock() % 1000) / 1000), max(0.05, next_poll - time.monotonic()))
                fds = [rpipe] + ([infd] if infd is not None else [])
                ready, _, _ = select.select(fds, [], [], timeout)
                if rpipe in ready:
                    try:
                        os.read(rpipe, 512)
                    except BlockingIOError:
                        pass
                if infd is not None and infd in ready:
                    try:
                        keys = os.read(infd, 64)
                    except OSError:
                        keys = b""
                    if not keys:  # stdin closed: no way to quit by key, but keep showing
                        infd = None
                    elif b"q" in keys or b"Q" in keys or b"\x03" in keys or b"\x04" in keys:
                        return
                    elif b"r" in keys or b"R" in keys or b"\x0c" in keys:
                        feed.tick(clock(), force=True)
                        term.size = (0, 0)
    except KeyboardInterrupt:
        return
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        signal.set_wakeup_fd(old_wakeup)
        os.close(rpipe)
        os.close(wpipe)
