"""Helpers for the local API tests: two real daemons (alpha, beta) on loopback, meshed, with
usage near the current time (an active block both devices use) and older history; a gRPC stub on
alpha's Unix socket; and Claude log lines stamped at given instants."""

from __future__ import annotations

import json
import time
from pathlib import Path

from tests.meshkit import Daemon, append_claude_lines
from tests.test_mesh_loopback import Mesh, converged, wait_for


def line(ts_ms: int, session: str, msg: str, model: str = "claude-sonnet-4-5", inp: int = 1000, out: int = 200,
         cw: int = 300, cr: int = 5000) -> str:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts_ms / 1000)) + f".{ts_ms % 1000:03d}Z"
    return json.dumps({
        "parentUuid": "p", "isSidechain": False, "userType": "external", "cwd": "/home/u/x", "sessionId": session,
        "version": "2.0.14", "type": "assistant", "uuid": f"u-{msg}", "timestamp": stamp, "requestId": f"req-{msg}",
        "message": {"id": msg, "type": "message", "role": "assistant", "model": model,
                    "content": [{"type": "text", "text": "ok"}],
                    "usage": {"input_tokens": inp, "output_tokens": out, "cache_creation_input_tokens": cw,
                              "cache_read_input_tokens": cr}},
    }, separators=(",", ":"))


def write_lines(folder: Path, project: str, session: str, lines: list[str]) -> Path:
    d = folder / "projects" / project
    d.mkdir(parents=True, exist_ok=True)
    p = d / f"{session}.jsonl"
    with open(p, "a") as f:
        f.write("".join(x + "\n" for x in lines))
    return p


def recent(folder: Path, tag: str, n: int, project: str, start_ago_min: int = 80, seed: int = 0) -> None:
    """n entries from `start_ago_min` minutes ago up to about a minute ago, in one session."""
    now = int(time.time() * 1000)
    t0 = now - start_ago_min * 60_000
    step = (start_ago_min - 1) * 60_000 // max(n, 1)
    models = ["claude-sonnet-4-5", "claude-opus-4-1", "claude-haiku-4-5"]
    write_lines(folder, project, f"s-{tag}", [
        line(t0 + i * step, f"s-{tag}", f"m-{tag}-{seed}-{i}", models[i % 3], 100 + i, 50 + i, 10 * i, 1000 + i)
        for i in range(n)])


def two_daemons(root: Path) -> tuple[Mesh, Daemon, Daemon]:
    """alpha and beta, meshed and converged, with history: March 2026 and the last 80 minutes."""
    m = Mesh(root, "ab")
    for k, name in (("a", "alpha"), ("b", "beta")):
        (m.home(k) / "config.toml").write_text(f'sync_interval = 1.0\ndevice_name = "{name}"\n')
        append_claude_lines(m.folder(k), 30, seed=3 if k == "a" else 4, tag=k)
    recent(m.folder("a"), "ra", 12, "-home-u-app")
    recent(m.folder("b"), "rb", 6, "-home-u-lib", start_ago_min=40)
    write_lines(m.folder("a"), "-home-u-lib", "s-old", [
        line(int(time.time() * 1000) - 30 * 3_600_000, "s-old", "m-old-1", "claude-opus-4-1")])
    a = m.start("a", "b")
    b = m.start("b", "a")
    wait_for(lambda: converged([a, b], 2), 20, "alpha and beta to converge")
    return m, a, b


def stub(home: Path):  # type: ignore[no-untyped-def]
    import grpc

    from meshd.config import socket_path
    from meshd.v1 import local_pb2_grpc

    ch = grpc.insecure_channel(f"unix://{socket_path(home)}")
    return ch, local_pb2_grpc.LocalServiceStub(ch)
