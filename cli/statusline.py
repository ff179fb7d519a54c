"""`meshctl statusline`'s work: one line for Claude Code's status bar, fed Claude Code's JSON on stdin.

It records the official `rate_limits` reading on stdin (when present and changed) as a `ratelimit`
record of this device's log, which the mesh replicates, and prints mesh-wide block and today costs,
burn rate, time left, the freshest official 5h/7d percentages from any machine and this machine's
share. It must be fast on every refresh and must never fail Claude Code: whatever happens, it prints
one line and exits 0.

What it reads: the replica's rollup of the last three days (an indexed range, the same at any
history size) and the small readings/settings tables. It never parses log files itself. When a
daemon runs, the daemon ingests new lines within a second and replicates. When none runs and the
session's transcript (`transcript_path`) has grown past its ingest cursor (or, without a
transcript, at most once a minute), it starts a detached background ingest and prints at once;
the next refresh shows the new lines. Other machines' numbers are as fresh as the last sync
(see docs/statusline.md).

No click here: `meshctl.entry` runs `meshctl statusline` without loading click (a third of the
start-up); `statusline_cmd.py` is the click command for help and the lazy command table.
"""

from __future__ import annotations

import os
import sys
from typing import Any

BUSY_MS = 200  # how long a write may wait for the daemon's transaction before it is skipped
WINDOW_MS = 3 * 86_400_000  # rows read for the active block (its chain of 5-hour blocks) and today


def read_stdin(limit: int, timeout: float = 0.5) -> bytes:
    """Up to `limit` bytes of stdin; b"" for a terminal, a silent writer, or more than `limit` bytes."""
    stream = sys.stdin
    if stream is None:
        return b""
    try:
        if stream.isatty():
            return b""
        fd = stream.fileno()
    except (OSError, ValueError, AttributeError):
        return b""
    import time

    try:
        import select
    except ImportError:  # pragma: no cover - every platform we run on has select
        select = None  # type: ignore[assignment]
    chunks: list[bytes] = []
    size = 0
    deadline = time.monotonic() + timeout
    while True:
        if select is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                return b""
            try:
                ready, _w, _x = select.select([fd], [], [], left)
            except (OSError, ValueError):  # e.g. Windows pipes: fall back to a blocking read
                ready = [fd]
            if not ready:
                return b""  # a writer that never closes: no payload
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            return b""
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            return b""


def parse_payload(raw: bytes) -> dict[str, Any]:
    """The statusline JSON object, or {} for anything else."""
    if not raw:
        return {}
    import orjson

    try:
        d = orjson.loads(raw)
    except (orjson.JSONDecodeError, ValueError, TypeError):
        return {}
    return d if isinstance(d, dict) else {}


def daemon_running(home) -> bool:  # type: ignore[no-untyped-def]
    """True when something accepts connections on the daemon's socket (no gRPC needed to tell)."""
    from meshd.config import socket_path

    p = socket_path(home)
    if not p.exists():
        return False
    import socket

    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(0.05)
    try:
        s.connect(str(p))
        return True
    except OSError:
        return False
    finally:
        s.close()


def transcript_file(path: object, config):  # type: ignore[no-untyped-def]
    """The session transcript as a LogFile of a known Claude folder, named as a full scan names it."""
    if not isinstance(path, str) or not 0 < len(path) < 4096 or not path.endswith(".jsonl") or "\x00" in path:
        return None
    if not os.path.isabs(path):
        return None
    from meshd.ingest.sources import LogFile, claude_roots

    try:
        roots = claude_roots(configured=config.claude_dirs)
    except Exception:  # SourceError and friends: nothing to ingest
        return None
    real = os.path.realpath(path)
    for root in roots:
        projects = root / "projects"
        base = os.path.realpath(projects)
        if not real.startswith(base + os.sep):
            continue
        rel = os.path.relpath(real, base).split(os.sep)
        if len(rel) < 2 or ".." in rel:
            continue
        full = os.path.join(str(projects), *rel)
        try:
            if not os.path.samefile(full, real):
                continue
        except OSError:
            continue
        session = rel[-3] if len(rel) >= 3 and rel[-2] == "subagents" else rel[-1][: -len(".jsonl")]
        return LogFile(full, str(root), rel[0], session)
    return None


def transcript_grew(conn, lf) -> bool:  # type: ignore[no-untyped-def]
    """True when the transcript holds bytes past its ingest cursor."""
    try:
        size = os.stat(lf.path).st_size
    except OSError:
        return False
    row = conn.execute("SELECT offset FROM files WHERE path=?", (lf.path,)).fetchone()
    return size != (row[0] if row else 0)


LOCK_NAME = "statusline-ingest.lock"
RESPAWN_S = 60  # without a transcript to watch, a background ingest starts at most this often


def spawn_ingest(home) -> None:  # type: ignore[no-untyped-def]
    """Start `background_ingest` detached (own session, stdio on /dev/null): Claude Code waits for our
    stdout to close, never for it. Its lock file's mtime says when the last one started."""
    lock = os.path.join(str(home), LOCK_NAME)
    try:
        with open(lock, "a"):
            pass
        os.utime(lock)
    except OSError:
        return
    argv = [sys.executable, "-c", "from meshctl.statusline import background_ingest; background_ingest()", str(home)]
    try:
        devnull = os.devnull
        os.posix_spawn(sys.executable, argv, dict(os.environ), setsid=True, file_actions=[
            (os.POSIX_SPAWN_OPEN, 0, devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, devnull, os.O_WRONLY, 0),
            (os.POSIX_SPAWN_OPEN, 2, devnull, os.O_WRONLY, 0),
        ])
    except (AttributeError, NotImplementedError, TypeError, OSError):  # no posix_spawn: subprocess
        import subprocess

        try:
            subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True, close_fds=True)
        except OSError:
            pass


def background_ingest() -> None:
    """Ingest what is new in every local source (and upgrade an old replica); one at a time per home."""
    from pathlib import Path

    home = Path(sys.argv[1])
    try:
        f = open(home / LOCK_NAME, "a")
    except OSError:
        return
    try:
        import fcntl

        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except ImportError:
        pass
    except OSError:
        return  # another one is at work
    try:
        from meshd.app import ingest_local, open_replica
        from meshd.config import load_config

        config = load_config(home)
        replica = open_replica(config)
        ingest_local(replica, config)
        replica.conn.close()
    except Exception:  # nobody to tell: the next statusline or report tries again
        if os.environ.get("MESHD_DEBUG"):
            raise


def open_fast(config):  # type: ignore[no-untyped-def]
    """This home's replica without upgrades or identity changes (those are for `meshctl status`).

    Returns (replica, None) or (None, reason).
    """
    from meshd.identity import device_id_for
    from meshd.store.db import connect
    from meshd.store.replica import Replica
    from meshd.store.schema import SCHEMA_VERSION

    conn = connect(config.db_path)
    conn.execute(f"PRAGMA busy_timeout={BUSY_MS}")
    meta = dict(conn.execute("SELECT key, value FROM meta WHERE key IN ('schema', 'device_id', 'epoch')"))
    if (
        meta.get("schema") != str(SCHEMA_VERSION)
        or "epoch" not in meta
        or meta.get("device_id") != device_id_for(config.home, config.device_id)
    ):
        conn.close()
        if not daemon_running(config.home):
            spawn_ingest(config.home)  # open_replica upgrades it in the background
            return None, "upgrading the replica (or run `meshctl status`)"
        return None, "run `meshctl status` once to upgrade the replica"
    # Appending a reading prices nothing: the coster is never called on this path.
    return Replica(conn, meta["device_id"], int(meta["epoch"]), lambda e: 0.0), None


def _iso_ms(s: object) -> int | None:
    from datetime import datetime

    try:
        return int(datetime.fromisoformat(str(s).replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return None


def build_line(payload: dict[str, Any], config, now: int):  # type: ignore[no-untyped-def]
    """Record the reading, gather the numbers, return a core.statusline.Line."""
    from meshd.core.ratelimit import from_statusline
    from meshd.core.statusline import Line

    obs = from_statusline(payload.get("rate_limits"), now)
    if not config.db_path.exists():
        if obs is None:
            return Line(message="meshd: no data yet (run `meshctl daily` or `meshd run`)")
        from meshd.app import open_replica

        open_replica(config).conn.close()  # a new, empty replica: cheap
    replica, reason = open_fast(config)
    if replica is None:
        return Line(message=f"meshd: {reason}")
    conn = replica.conn
    try:
        return _gather(replica, config, payload, obs, now)
    finally:
        conn.close()


def _gather(replica, config, payload, obs, now):  # type: ignore[no-untyped-def]
    import sqlite3
    import time

    from meshd.core import blocks as core_blocks
    from meshd.core.periods import day_key, resolve_tz
    from meshd.core.ratelimit import WINDOWS
    from meshd.core.statusline import Limit, Line, share
    from meshd.store.limits import freshest, record_reading
    from meshd.store.replica import transaction
    from meshd.store.usage import RowFilter, device_names, usage_rows

    conn = replica.conn
    daemon = daemon_running(config.home)
    if not daemon:  # new local lines are ingested in the background, shown from the next refresh
        lf = transcript_file(payload.get("transcript_path"), config)
        if lf is not None:
            due = transcript_grew(conn, lf)
        else:
            try:
                due = time.time() - os.stat(os.path.join(str(config.home), LOCK_NAME)).st_mtime > RESPAWN_S
            except OSError:
                due = True
        if due:
            spawn_ingest(config.home)
    if obs is not None:
        try:
            with transaction(conn):
                record_reading(replica, obs)
        except sqlite3.OperationalError:
            pass  # the daemon holds the write lock: the next refresh records it

    zone = resolve_tz(config.timezone)
    names = device_names(conn)
    me = names.get(replica.device_id, replica.device_id[:8])
    rows = usage_rows(conn, config.cost_mode, RowFilter(since_ms=now - WINDOW_MS), merge_models=True)
    line = Line()
    from datetime import date, datetime

    d = date.fromisoformat(day_key(now, zone))
    midnight = int(datetime(d.year, d.month, d.day, tzinfo=zone).timestamp() * 1000)
    line.today_cost = sum(r.cost for r in rows if r.ts >= midnight)
    claude = [r for r in rows if r.provider == "claude"]
    blk = core_blocks.blocks_report(claude, now_ms=now, tz=zone, active_only=True)
    active = blk["blocks"][0] if blk["blocks"] else None
    block_start = None
    if active is not None:
        line.block_cost = float(active["costUSD"])
        left = (active.get("projection") or {}).get("remainingMinutes")
        if left is None:
            end = _iso_ms(active["endTime"])
            left = None if end is None else max(0, (end - now) // 60000)
        line.block_left_min = left
        line.burn_per_hour = (active.get("burnRate") or {}).get("costPerHour")
        block_start = _iso_ms(active["startTime"])
    fresh = freshest(conn, now)
    own = {w.name: w for w in obs.windows} if obs is not None else {}
    window_start = None
    for name in ("five_hour", "seven_day"):
        if name in own:  # what Claude Code just said is the freshest there is
            w = own[name]
            expired = w.resets_at is not None and w.resets_at * 1000 <= now
            line.limits.append(Limit(name, w.used_percentage, 0, None, expired))
            if name == "five_hour" and w.resets_at is not None and not expired:
                window_start = w.resets_at * 1000 - WINDOWS[name]
        elif name in fresh:
            f = fresh[name]
            dev = None if f.origin == replica.device_id else names.get(f.origin, f.origin[:8])
            line.limits.append(Limit(name, f.used_percentage, f.age_ms, dev, f.expired))
            if name == "five_hour" and f.starts_ms is not None and not f.expired:
                window_start = f.starts_ms
    since = window_start if window_start is not None else block_start
    if since is not None:
        line.share = share(((r.ts, r.device, r.cost) for r in claude), me, since)
    if not daemon and conn.execute("SELECT COUNT(DISTINCT origin) FROM vector").fetchone()[0] > 1:
        line.note = "mesh offline"
    return line


def run(home) -> None:  # type: ignore[no-untyped-def]
    """Print the line; never raises (MESHD_DEBUG=1 lets errors through), never exits non-zero."""
    try:
        from meshd.clock import now_ms
        from meshd.config import load_config
        from meshd.core.statusline import MAX_STDIN, render

        payload = parse_payload(read_stdin(MAX_STDIN))
        text = render(build_line(payload, load_config(home), now_ms()))
    except Exception as e:  # never fail Claude Code: a short reason instead of the numbers
        if os.environ.get("MESHD_DEBUG"):
            raise
        from meshd.errors import MeshError

        reason = str(e) if isinstance(e, MeshError) else type(e).__name__
        text = "meshd: unavailable (" + reason.replace("\n", " ")[:200] + ")"
    try:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
    except (BrokenPipeError, OSError):
        pass
