"""Helpers for tests and benchmarks that run real `meshd run` daemons (in a netns lab or on loopback).

- `Daemon`: one `meshd run` process with its own data home and Claude folders; waits for the
  ready line on stderr (`meshd: listening on HOST:PORT as <device-id>`), keeps its stderr in a
  file for post-mortems, and runs `meshctl` against the same home.
- `vector(home)`, `log_counts(home)`: the replica's version vector and per-log record counts,
  read straight from SQLite (read-only), independent of any CLI output format.
- `append_claude_lines(folder, n, seed)`: append usage lines to a Claude folder, as Claude Code does.
- `provision(homes)`: one mesh CA and a device certificate per home (no pairing round).
- `build_replica(home, n)`: a replica with n usage records made through `meshd.store` (no ingest).
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path

READY = re.compile(r"meshd: listening on (\S+) as ([0-9a-f]{8,})")


class Daemon:
    """One `meshd run`. `runner` starts argv and returns a Popen (a lab host's spawn, or Popen)."""

    def __init__(self, name: str, home: Path, claude: Sequence[Path], listen: str, *,
                 spawn: Callable[..., subprocess.Popen[str]] | None = None,
                 run: Callable[..., subprocess.CompletedProcess[str]] | None = None,
                 peers: Sequence[str] = (), mdns: bool = True, sync_interval: float | None = 3.0,
                 extra_env: dict[str, str] | None = None) -> None:
        self.name = name
        self.home = Path(home)
        self.claude = [Path(c) for c in claude]
        self.listen = listen
        self.peers = list(peers)
        self.mdns = mdns
        self._spawn = spawn or (lambda argv, env, **kw: subprocess.Popen(argv, env=env, **kw))
        self._run = run or (lambda argv, env, **kw: subprocess.run(argv, env=env, capture_output=True, text=True,
                                                                  **kw))
        self.proc: subprocess.Popen[str] | None = None
        self.device_id: str | None = None
        self.lines: list[str] = []
        self.log_path = self.home.parent / f"{self.home.name}.stderr.log"
        self.home.mkdir(parents=True, exist_ok=True)
        if sync_interval is not None:
            cfg = self.home / "config.toml"
            if not cfg.exists():
                cfg.write_text(f"sync_interval = {sync_interval}\n")
        self.env = dict(os.environ, MESHD_HOME=str(self.home), CLAUDE_CONFIG_DIR=",".join(map(str, self.claude)),
                        TZ="UTC", PYTHONUNBUFFERED="1", **(extra_env or {}))
        self.env.pop("CCUSAGE_BIN", None)

    @property
    def argv(self) -> list[str]:
        a = [sys.executable, "-m", "meshd", "run", "--listen", self.listen, "--home", str(self.home)]
        for p in self.peers:
            a += ["--peer", p]
        if not self.mdns:
            a.append("--no-mdns")
        return a

    def start(self, timeout: float = 30) -> Daemon:
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.lines = []
        ready = threading.Event()
        self.proc = self._spawn(self.argv, self.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        proc = self.proc
        log = open(self.log_path, "a")
        log.write(f"--- start {time.strftime('%H:%M:%S')} pid={proc.pid} {' '.join(self.argv)}\n")

        def pump() -> None:
            assert proc.stderr is not None
            for line in proc.stderr:
                self.lines.append(line)
                log.write(line)
                log.flush()
                m = READY.search(line)
                if m:
                    self.device_id = m.group(2)
                    ready.set()
            log.write(f"--- exit rc={proc.wait()}\n")
            log.close()
            ready.set()

        threading.Thread(target=pump, daemon=True).start()
        deadline = time.monotonic() + timeout
        while not ready.wait(0.1):
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name}: no ready line within {timeout}s; stderr:\n{self.stderr_tail()}")
        if proc.poll() is not None and not any(READY.search(x) for x in self.lines):
            raise AssertionError(f"{self.name}: meshd run exited rc={proc.returncode}; stderr:\n{self.stderr_tail()}")
        return self

    def stderr_tail(self, n: int = 40) -> str:
        return "".join(self.lines[-n:])

    def send(self, sig: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, sig)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> int | None:
        if self.proc is None:
            return None
        self.send(sig)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.send(signal.SIGKILL)
            self.proc.wait(10)
        return self.proc.returncode

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def meshctl(self, *args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
        p = self._run([sys.executable, "-m", "meshctl", *args], self.env, timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError(f"{self.name}: meshctl {' '.join(args)}: rc={p.returncode}\n{p.stderr}")
        return p

    def json(self, *args: str) -> dict:
        return json.loads(self.meshctl(*args, "--json").stdout)

    def vector(self) -> dict[tuple[str, int], int]:
        return vector(self.home)


def provision(homes: Sequence[Path]) -> object | None:
    """Give these homes one mesh (CA + a device certificate each), as `meshctl init` on the first
    and `meshctl join` on the others would; None when this build has no security layer yet."""
    try:
        from meshd.security.testing import make_mesh
    except ImportError:
        return None
    for h in homes:
        Path(h).mkdir(parents=True, exist_ok=True)
    return make_mesh([Path(h) for h in homes])


def _ro(home: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(f"file:{home / 'meshd.db'}?mode=ro", uri=True, timeout=10, isolation_level=None)
    conn.execute("PRAGMA busy_timeout=10000")
    return conn


def vector(home: Path) -> dict[tuple[str, int], int]:
    """The replica's version vector {(origin, epoch): max contiguous seq}; {} when there is no db."""
    if not (home / "meshd.db").exists():
        return {}
    conn = _ro(home)
    try:
        return {(o, int(e)): int(s) for o, e, s in conn.execute("SELECT origin, epoch, max_seq FROM vector")}
    except sqlite3.OperationalError:
        return {}
    finally:
        conn.close()


def log_counts(home: Path) -> dict[tuple[str, int], tuple[int, int, int]]:
    """Per log: (records held, min seq, max seq) as stored, to check for holes and duplicates."""
    conn = _ro(home)
    try:
        return {(o, int(e)): (int(n), int(lo), int(hi)) for o, e, n, lo, hi in conn.execute(
            "SELECT origin, epoch, COUNT(*), MIN(seq), MAX(seq) FROM log GROUP BY origin, epoch")}
    finally:
        conn.close()


def usage_count(home: Path) -> int:
    conn = _ro(home)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM usage").fetchone()[0])
    finally:
        conn.close()


def _dump(d: dict) -> str:
    return json.dumps(d, separators=(",", ":"))


def append_claude_lines(folder: Path, n: int, seed: int, tag: str) -> Path:
    """Append n assistant usage lines (fresh message ids) to a session file in a Claude folder."""
    rng = random.Random(seed)
    d = Path(folder) / "projects" / "-home-u-live"
    d.mkdir(parents=True, exist_ok=True)
    path = d / f"live-{tag}.jsonl"
    start = datetime(2026, 3, 20, 9, 0, tzinfo=timezone.utc) + timedelta(minutes=rng.randint(0, 3000))
    out = []
    for i in range(n):
        ts = start + timedelta(seconds=37 * i)
        out.append(_dump({
            "parentUuid": "p", "isSidechain": False, "userType": "external", "cwd": "/home/u/live",
            "sessionId": f"live-{tag}", "version": "2.0.14", "type": "assistant",
            "uuid": f"u-live-{tag}-{seed}-{i}", "timestamp": ts.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "requestId": f"req_live_{tag}_{seed}_{i}",
            "message": {"id": f"msg_live_{tag}_{seed}_{i}", "type": "message", "role": "assistant",
                        "model": rng.choice(["claude-sonnet-4-5", "claude-opus-4-1", "claude-haiku-4-5"]),
                        "content": [{"type": "text", "text": "ok"}],
                        "usage": {"input_tokens": rng.randint(1, 4000), "output_tokens": rng.randint(1, 2000),
                                  "cache_creation_input_tokens": rng.randint(0, 3000),
                                  "cache_read_input_tokens": rng.randint(0, 50000)}},
        }))
    with open(path, "a") as f:
        f.write("\n".join(out) + "\n")
    return path


def synthetic_entries(n: int, seed: int = 1, tag: str = "s"):
    """n distinct usage entries (unique message ids) spread over March 2026."""
    from meshd.core.entry import UsageEntry

    rng = random.Random(seed)
    models = ["claude-sonnet-4-5", "claude-opus-4-1", "claude-haiku-4-5"]
    base = int(datetime(2026, 3, 1, tzinfo=timezone.utc).timestamp() * 1000)
    for i in range(n):
        yield UsageEntry(
            ts=base + i * 2400 + rng.randint(0, 999), provider="claude", model=models[i % 3],
            session_id=f"{tag}-sess{i // 500}", project=f"-home-u-p{i % 7}",
            input_tokens=rng.randint(1, 4000), output_tokens=rng.randint(1, 2000),
            cache_write_5m_tokens=rng.randint(0, 3000), cache_read_tokens=rng.randint(0, 50000),
            message_id=f"msg_{tag}_{i}", request_id=f"req_{tag}_{i}",
        )


def build_replica(home: Path, n: int, seed: int = 1, tag: str = "s", chunk: int = 50_000) -> tuple[str, int]:
    """Create home's replica and append n usage records through meshd.store; returns (device, epoch)."""
    from meshd.app import open_replica
    from meshd.store.replica import transaction

    home.mkdir(parents=True, exist_ok=True)
    rep = open_replica(home=home)
    it = synthetic_entries(n, seed, tag)
    while True:
        batch = [e for _, e in zip(range(chunk), it)]
        if not batch:
            break
        with transaction(rep.conn):
            rep.append_usage(batch)
    dev, ep = rep.device_id, rep.epoch
    rep.conn.close()
    return dev, ep
