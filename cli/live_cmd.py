"""`meshctl status --live` / `meshctl blocks --live`: the full-screen monitor's loop.

The loop owns the terminal (alternate screen, hidden cursor, no echo, no auto-wrap) and gives it
back on every way out: `q`, Ctrl-C, Ctrl-Z (until `fg`), SIGTERM/SIGHUP, an exception. It sleeps
in one `select()` on stdin and a wake-up pipe that signals (SIGWINCH) and the watch thread write
to, so an idle view costs a redraw of the clock line per second and a `PRAGMA data_version` per
poll.

Feeds: with a daemon, the daemon ingests and gossips; its watch stream (a thread) says when to
re-read the replica, SQLite's data_version is the fallback, and its Status call gives the peers
every few seconds. Without a daemon we ingest local logs ourselves every few seconds, as every
meshctl report does first. Without a terminal on stdout the view prints one snapshot, uncoloured,
and returns."""

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
        self.watching = False  # the daemon's watch stream is connected
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
        peers = daemon_peers(self.config.home) if self._socket_exists() else None
        if peers is None:
            self.daemon, self.peers = False, None
        else:
            from meshd.store.usage import device_names

            names = device_names(self.replica.conn)
            self.daemon = True
            self.peers = tuple(sorted((replace(p, name=names.get(p.device_id, p.name)) for p in peers),
                                      key=lambda p: (p.state != "online", p.name)))
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
        feed = "watch" if self.daemon and self.watching else "daemon" if self.daemon else "poll"
        self.snapshot = replace(snap, daemon=self.daemon, peers=self.peers, feed=feed, notes=tuple(self.errors))
        return self.snapshot


def daemon_peers(home: Any) -> list[L.Peer] | None:
    """The daemon's peers, best state per device (online, offline, new); None when no daemon answers."""
    from meshd.errors import DaemonError
    from meshd.rpc import local

    try:
        st = local.status(home)
    except DaemonError:
        return None
    rank = {"online": 0, "backoff": 1, "offline": 2, "new": 3}
    best: dict[str, Any] = {}
    for p in st.peers:
        if not p.device_id or p.device_id == st.device_id or p.state in ("self", "forgotten"):
            continue
        cur = best.get(p.device_id)
        if cur is None or rank.get(p.state, 9) < rank.get(cur.state, 9):
            best[p.device_id] = p
    return [L.Peer(did[:8], did, p.state, p.last_success_ms or None, p.address, p.last_error)
            for did, p in best.items()]


class Watcher:
    """The daemon's watch stream on a thread: every event pokes the loop's wake-up pipe.

    The replica stays the one source of truth (the daemon commits before it streams); the
    stream only says "now", so the view redraws within milliseconds instead of at the next poll.
    Reconnects every few seconds while a daemon runs; `connected` says whether it is live.
    """

    def __init__(self, home: Any, wake_fd: int) -> None:
        self.home = home
        self.wake_fd = wake_fd
        self.connected = False
        self.supported = True
        self.events = 0
        self._stop = False
        self._call: Any = None
        self._thread: Any = None

    def start(self) -> Watcher:
        import threading

        self._thread = threading.Thread(target=self._run, name="meshctl-watch", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop = True
        call = self._call
        if call is not None:
            try:
                call.cancel()
            except Exception:
                pass

    def _poke(self) -> None:
        try:
            os.write(self.wake_fd, b"w")
        except (BlockingIOError, OSError):
            pass

    def _run(self) -> None:
        try:
            import grpc

            from meshd.config import socket_path
            from meshd.v1 import local_pb2, local_pb2_grpc
        except ImportError:
            self.supported = False
            return
        if not hasattr(local_pb2, "WatchRequest"):  # a daemon API without the stream
            self.supported = False
            return
        topics = [getattr(local_pb2, n) for n in ("WATCH_TOPIC_USAGE", "WATCH_TOPIC_BLOCKS", "WATCH_TOPIC_RECORDS")
                  if hasattr(local_pb2, n)]
        while not self._stop:
            path = socket_path(self.home)
            if path.exists():
                try:
                    with grpc.insecure_channel(f"unix://{path}") as ch:
                        self._call = local_pb2_grpc.LocalServiceStub(ch).Watch(
                            local_pb2.WatchRequest(topics=topics))
                        for _ev in self._call:
                            if not self.connected:
                                self.connected = True
                            self.events += 1
                            self._poke()
                            if self._stop:
                                break
                except grpc.RpcError as e:
                    if e.code() == grpc.StatusCode.UNIMPLEMENTED:  # type: ignore[attr-defined]
                        self.supported = False
                        return
                except Exception:
                    pass
                finally:
                    self._call = None
                    if self.connected:
                        self.connected = False
                        self._poke()
            for _ in range(30):  # retry in 3 s
                if self._stop:
                    return
                time.sleep(0.1)


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
        self.enter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.leave()

    def enter(self) -> None:
        if self.infd is not None:
            import termios
            import tty

            try:
                self.saved = termios.tcgetattr(self.infd)
                tty.setcbreak(self.infd, termios.TCSANOW)  # keys one by one, no echo; Ctrl-C still signals
            except termios.error:
                self.saved = None
        self.size = (0, 0)
        self.write(self.ENTER)

    def leave(self) -> None:
        try:
            self.write(self.LEAVE)
        except (OSError, ValueError):
            pass
        if self.saved is not None:
            import termios

            try:
                termios.tcsetattr(self.infd, termios.TCSADRAIN, self.saved)
            except termios.error:
                pass
            self.saved = None

    def suspend(self) -> None:
        """Ctrl-Z: give the terminal back, stop, and take it again on `fg`."""
        self.leave()
        old = signal.signal(signal.SIGTSTP, signal.SIG_DFL)
        try:
            os.kill(os.getpid(), signal.SIGTSTP)  # stops here until SIGCONT
        finally:
            signal.signal(signal.SIGTSTP, old)
        self.enter()

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


def run(ctx: Any, *, tz_name: str | None, mode: str | None, compact: bool, session_hours: float = 5.0,
        as_json: bool = False, command: str = "status") -> None:
    """Open the replica (ingesting first) and show the monitor until `q`, Ctrl-C or a signal."""
    from meshd.errors import ConfigError

    if as_json:
        raise ConfigError("--live and --json do not go together", hint=f"use `meshctl {command} --json`")
    if not (isinstance(session_hours, (int, float)) and 0 < session_hours <= 24 * 7):
        raise ConfigError("--session-length must be between 0 and 168 hours")
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


MIN_REREAD_S = 0.25  # a burst of watch events (a peer catching up) costs at most 4 reads a second


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

    term = Terminal(out, infd)

    def on_tstp(_signo: int, _frame: object) -> None:
        term.suspend()
        resized[0] = True

    handlers = {signal.SIGWINCH: on_winch, signal.SIGTERM: on_term, signal.SIGHUP: on_term, signal.SIGTSTP: on_tstp}
    old = {s: signal.signal(s, h) for s, h in handlers.items()}
    watcher: Watcher | None = None
    try:
        with term:
            feed.tick(clock(), force=True)
            next_poll = time.monotonic() + POLL_S
            pending = False  # a watch event asked for a re-read
            while True:
                mono = time.monotonic()
                if feed.daemon and watcher is None:  # the stream needs grpc: only once a daemon answers
                    watcher = Watcher(feed.config.home, wpipe).start()
                feed.watching = watcher is not None and watcher.connected
                if pending and mono - feed.last_read >= MIN_REREAD_S:
                    pending = False
                    feed.tick(clock(), force=True)
                elif mono >= next_poll:
                    feed.tick(clock())
                if time.monotonic() >= next_poll:
                    next_poll = time.monotonic() + POLL_S
                w, h = terminal_size(outfd)
                if resized[0]:
                    resized[0] = False
                    term.size = (0, 0)  # full redraw
                now = clock()
                assert feed.snapshot is not None
                term.draw(render(feed.snapshot, w, h, now), (w, h))
                # sleep until the next whole second (the clock line), the next poll, a key, a signal or an event
                wake = next_poll if not pending else min(next_poll, feed.last_read + MIN_REREAD_S)
                timeout = min(max(0.02, 1.0 - (clock() % 1000) / 1000), max(0.02, wake - time.monotonic()))
                fds = [rpipe] + ([infd] if infd is not None else [])
                ready, _, _ = select.select(fds, [], [], timeout)
                if rpipe in ready:
                    try:
                        got = os.read(rpipe, 4096)
                    except BlockingIOError:
                        got = b""
                    if b"w" in got:
                        pending = True
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
        if watcher is not None:
            watcher.stop()
        for s, h in old.items():
            signal.signal(s, h)
        signal.set_wakeup_fd(old_wakeup)
        os.close(rpipe)
        os.close(wpipe)
