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
    """The statusline JSON object, or {} for anything else (stdlib json: orjson costs more to import)."""
    if not raw:
        return {}
    import json

    try:
        d = json.loads(raw)
    except (ValueError, RecursionError):  # includes UnicodeDecodeError and JSONDecodeError
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
SPAWN_GAP_S = 2  # and never more often than this


def since_spawn(home) -> float:  # type: ignore[no-untyped-def]
    """Seconds since the last background ingest started (its lock file's mtime); inf if never."""
    import time

    try:
        return time.time() - os.stat(os.path.join(str(home), LOCK_NAME)).st_mtime
    except OSError:
        return float("inf")


def spawn_ingest(home) -> None:  # type: ignore[no-untyped-def]
    """Start `background_ingest` detached (own session, stdio on /dev/null): Claude Code waits for our
    stdout to close, never for it. Its lock file's mtime says when the last one started."""
    if since_spawn(home) < SPAWN_GAP_S:
        return
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


# -- the snapshot cache --------------------------------------------------------------------------
#
# Most refreshes find the replica as it was on the previous one. The snapshot (core/statusline.py)
# is kept in <home>/statusline.cache with a signature of everything it depends on: the version
# vector (every record, ours or replicated, moves it), the price data and schema in force, this
# device's id and epoch, config.toml, the zone. A refresh whose signature matches, within the
# snapshot's expiry (a minute at most, and never past midnight or the block's end), composes the
# line from it and imports nothing but sqlite3 and json; anything else computes afresh.

CACHE_NAME = "statusline.cache"
CACHE_VERSION = 1
CACHE_TTL_MS = 60_000
BUCKETS_MS = 6 * 3_600_000  # cost rows kept for the share: the 5-hour window and the block fit


def signature(conn, home: str) -> list:  # type: ignore[no-untyped-def,type-arg]
    from meshd import __version__

    vec = conn.execute("SELECT COALESCE(SUM(max_seq), 0), COUNT(*) FROM vector").fetchone()
    meta = dict(conn.execute(
        "SELECT key, value FROM meta WHERE key IN ('schema', 'pricing', 'device_id', 'epoch')"))
    cfg = None
    try:
        st = os.stat(os.path.join(home, "config.toml"))
        cfg = [st.st_mtime_ns, st.st_size]
    except OSError:
        pass
    try:
        zone = os.stat("/etc/localtime").st_mtime_ns
    except OSError:
        zone = None
    return [CACHE_VERSION, __version__, home, list(vec), [list(kv) for kv in sorted(meta.items())], cfg, zone,
            os.environ.get("TZ"), os.environ.get("CLAUDE_CONFIG_DIR")]


def _obs_json(obs) -> dict | None:  # type: ignore[no-untyped-def,type-arg]
    if obs is None:
        return None
    return {"at": obs.at_ms, "source": obs.source, "windows": [list(w) for w in obs.windows]}


def _obs_from(d) -> object:  # type: ignore[no-untyped-def]
    from meshd.core.ratelimit import Observation, Window

    if not d:
        return None
    return Observation(d["at"], d["source"], tuple(Window(*w) for w in d["windows"]))


def load_cache(home: str) -> dict | None:  # type: ignore[type-arg]
    import json

    try:
        with open(os.path.join(home, CACHE_NAME), "rb") as f:
            raw = f.read(1 << 20)
        snap = json.loads(raw)
    except (OSError, ValueError, RecursionError):
        return None
    return snap if isinstance(snap, dict) and snap.get("v") == CACHE_VERSION else None


def save_cache(home: str, snap: dict) -> None:  # type: ignore[type-arg]
    import json

    path = os.path.join(home, CACHE_NAME)
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(snap, f, separators=(",", ":"))
        os.replace(tmp, path)
    except (OSError, TypeError, ValueError):
        try:
            os.unlink(tmp)
        except OSError:
            pass


def from_cache(home: str, payload: dict[str, Any], obs, now: int):  # type: ignore[no-untyped-def]
    """The line from a still-valid cached snapshot, or None (then it is computed afresh)."""
    snap = load_cache(home)
    db = os.path.join(home, "meshd.db")
    if snap is None or any(c in db for c in "?#%") or not os.path.exists(db):
        return None
    if not snap.get("at", now + 1) <= now < snap.get("expires", 0):
        return None
    from meshd.core.ratelimit import should_record
    from meshd.core.statusline import compose

    if obs is not None and should_record(_obs_from(snap.get("own")), obs):  # type: ignore[arg-type]
        return None  # a reading to record: the full path writes it
    import sqlite3

    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.2, isolation_level=None)
    except sqlite3.Error:
        return None
    try:
        if snap.get("sig") != signature(conn, home):
            return None
        if not snap.get("daemon"):
            tp = payload.get("transcript_path")
            known = snap.get("transcript")
            if tp is not None and (not known or known[0] != tp):
                return None  # a new transcript: the full path finds where it lives
            if known:
                row = conn.execute("SELECT offset FROM files WHERE path=?", (known[1],)).fetchone()
                try:
                    grew = os.stat(known[1]).st_size != (row[0] if row else 0)
                except OSError:
                    grew = False
                if grew:
                    spawn_ingest(home)
            elif since_spawn(home) > RESPAWN_S:
                spawn_ingest(home)
    except sqlite3.Error:
        return None
    finally:
        conn.close()
    return compose(snap, obs, now)


def build_line(payload: dict[str, Any], config, now: int):  # type: ignore[no-untyped-def]
    """Record the reading, compute the snapshot (and cache it), return a core.statusline.Line."""
    from meshd.core.ratelimit import from_statusline
    from meshd.core.statusline import Line, compose

    obs = from_statusline(payload.get("rate_limits"), now)
    if not config.db_path.exists():
        if obs is None:
            return Line(message="meshd: no data yet (run `meshctl daily` or `meshd run`)")
        from meshd.app import open_replica

        open_replica(config).conn.close()  # a new, empty replica: cheap
    replica, reason = open_fast(config)
    if replica is None:
        return Line(message=f"meshd: {reason}")
    try:
        snap = snapshot(replica, config, payload, obs, now)
    finally:
        replica.conn.close()
    save_cache(str(config.home), snap)
    return compose(snap, obs, now)


def snapshot(replica, config, payload, obs, now) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Record the reading if due, start a background ingest if due, and gather the numbers."""
    import sqlite3

    from meshd.core import blocks as core_blocks
    from meshd.core.periods import day_key, resolve_tz
    from meshd.store.limits import freshest, latest_own, record_reading
    from meshd.store.replica import transaction
    from meshd.store.usage import RowFilter, device_names, usage_rows

    conn = replica.conn
    home = str(config.home)
    daemon = daemon_running(config.home)
    transcript = None
    if not daemon:  # new local lines are ingested in the background, shown from the next refresh
        lf = transcript_file(payload.get("transcript_path"), config)
        if lf is not None:
            transcript = [payload["transcript_path"], lf.path]
            if transcript_grew(conn, lf):
                spawn_ingest(config.home)
        elif since_spawn(config.home) > RESPAWN_S:
            spawn_ingest(config.home)
    if obs is not None:
        try:
            with transaction(conn):
                record_reading(replica, obs)
        except sqlite3.OperationalError:
            pass  # the daemon holds the write lock: the next refresh records it
    sig = signature(conn, home)  # before reading: a write from now on changes it, so no stale cache

    zone = resolve_tz(config.timezone)
    names = device_names(conn)
    rows = usage_rows(conn, config.cost_mode, RowFilter(since_ms=now - WINDOW_MS), merge_models=True)
    from datetime import date, datetime, timedelta

    d = date.fromisoformat(day_key(now, zone))
    midnight = int(datetime(d.year, d.month, d.day, tzinfo=zone).timestamp() * 1000)
    n = d + timedelta(days=1)
    day_end = int(datetime(n.year, n.month, n.day, tzinfo=zone).timestamp() * 1000)
    claude = [r for r in rows if r.provider == "claude"]
    blk = core_blocks.blocks_report(claude, now_ms=now, tz=zone, active_only=True)
    active = blk["blocks"][0] if blk["blocks"] else None
    block = None
    expires = min(now + CACHE_TTL_MS, day_end)
    if active is not None:
        start, end = _iso_ms(active["startTime"]), _iso_ms(active["endTime"])
        if start is not None and end is not None:
            block = {"cost": float(active["costUSD"]), "start": start, "end": end,
                     "burn": (active.get("burnRate") or {}).get("costPerHour")}
            expires = min(expires, end)
    me = names.get(replica.device_id, replica.device_id[:8])
    buckets: dict[int, list[float]] = {}
    for r in claude:
        if r.ts >= now - BUCKETS_MS:
            b = buckets.setdefault(r.ts, [0.0, 0.0])
            b[1] += r.cost
            if r.device == me:
                b[0] += r.cost
    limits = {}
    for name, f in freshest(conn, now).items():
        limits[name] = {"pct": f.used_percentage, "at": f.at_ms, "resets": f.resets_at_ms,
                        "device": None if f.origin == replica.device_id else names.get(f.origin, f.origin[:8])}
    multi = conn.execute("SELECT COUNT(DISTINCT origin) FROM vector").fetchone()[0] > 1
    return {
        "v": CACHE_VERSION, "sig": sig, "at": now, "expires": expires,
        "block": block, "today": sum(r.cost for r in rows if r.ts >= midnight), "dayEnd": day_end,
        "limits": limits, "buckets": [[ts, m, t] for ts, (m, t) in sorted(buckets.items())],
        "daemon": daemon, "multi": multi, "transcript": transcript,
        "own": _obs_json(latest_own(conn, replica.device_id)),
    }


def home_dir(home) -> str:  # type: ignore[no-untyped-def]
    """The data home exactly as meshd.config.default_home resolves it (--home, $MESHD_HOME, the
    platform's folder), without importing meshd.config (dataclasses, tomllib) on the cached path.
    tests/test_statusline.py checks that the two agree."""
    from pathlib import Path

    if home:
        return str(Path(home).expanduser().absolute())
    env = os.environ.get("MESHD_HOME")
    if env:
        return str(Path(env).expanduser().absolute())
    if sys.platform == "darwin":
        return str(Path.home() / "Library" / "Application Support" / "meshd")
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return str(Path(base) / "meshd")
    xdg = os.environ.get("XDG_DATA_HOME")
    return str((Path(xdg) if xdg else Path.home() / ".local" / "share") / "meshd")


def run(home) -> None:  # type: ignore[no-untyped-def]
    """Print the line; never raises (MESHD_DEBUG=1 lets errors through), never exits non-zero."""
    try:
        from meshd.clock import now_ms
        from meshd.core.ratelimit import from_statusline
        from meshd.core.statusline import MAX_STDIN, render

        payload = parse_payload(read_stdin(MAX_STDIN))
        now = now_ms()
        line = None
        if os.environ.get("MESHD_STATUSLINE_CACHE", "1") != "0":
            try:
                line = from_cache(home_dir(home), payload, from_statusline(payload.get("rate_limits"), now), now)
            except Exception:  # a cache that cannot be used is computed afresh
                if os.environ.get("MESHD_DEBUG"):
                    raise
                line = None
        if line is None:
            from meshd.config import load_config

            line = build_line(payload, load_config(home), now)
        cols = os.environ.get("COLUMNS", "")
        text = render(line, int(cols) if cols.isdigit() and 20 <= int(cols) <= 10_000 else None)
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
