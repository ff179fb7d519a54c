"""Deterministic generator of realistic Claude Code histories spread over several folders."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

MODELS = ["claude-sonnet-4-5", "claude-sonnet-4-5", "claude-opus-4-1", "claude-haiku-4-5", "claude-opus-4-6",
          "claude-sonnet-4-20250514", "some-unknown-model"]


def _dump(d: dict) -> str:
    return json.dumps(d, separators=(",", ":"))


def assistant(rng: random.Random, ts: datetime, sid: str, mid: str, rid: str, model: str, *,
              side: bool = False, out: int | None = None, big: bool = False) -> dict:
    usage: dict = {"input_tokens": rng.randint(1, 4000) if not big else rng.randint(200_001, 400_000),
                   "cache_creation_input_tokens": 0, "cache_read_input_tokens": rng.randint(0, 90_000),
                   "output_tokens": out if out is not None else rng.randint(1, 2000), "service_tier": "standard"}
    if rng.random() < 0.7:
        c5, c1 = rng.randint(0, 3000), rng.randint(0, 2000) if rng.random() < 0.3 else 0
        usage["cache_creation"] = {"ephemeral_5m_input_tokens": c5, "ephemeral_1h_input_tokens": c1}
        usage["cache_creation_input_tokens"] = c5 + c1
    else:
        usage["cache_creation_input_tokens"] = rng.randint(0, 5000)
    if model == "claude-opus-4-6" and rng.random() < 0.3:
        usage["speed"] = "fast"
    d = {"parentUuid": None if rng.random() < 0.05 else "p", "isSidechain": side, "userType": "external",
         "cwd": "/home/u/src", "sessionId": sid, "version": "2.0.14", "gitBranch": "main", "type": "assistant",
         "uuid": f"u-{mid}-{rng.random():.6f}", "timestamp": ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z",
         "requestId": rid,
         "message": {"id": mid, "type": "message", "role": "assistant", "model": model,
                     "content": [{"type": "text", "text": "ok " * rng.randint(5, 80)}], "stop_reason": None,
                     "usage": usage}}
    if rng.random() < 0.05:
        d["costUSD"] = round(rng.random() * 0.2, 6)
    return d


def session_lines(rng: random.Random, sid: str, start: datetime, n: int) -> list[str]:
    lines: list[str] = []
    ts = start
    for i in range(n):
        ts += timedelta(seconds=rng.randint(5, 400)) if rng.random() > 0.03 else timedelta(hours=rng.randint(5, 30))
        mid, rid = f"msg_{sid}_{i}", f"req_{sid}_{i}"
        model = rng.choice(MODELS)
        lines.append(_dump({"type": "user", "sessionId": sid, "timestamp": ts.isoformat().replace("+00:00", "Z"),
                            "message": {"role": "user", "content": [{"type": "tool_result", "content": "x" * rng.randint(50, 3000)}]}}))
        r = rng.random()
        if r < 0.1:  # a response split over several lines
            for out in sorted(rng.sample(range(1, 3000), 3)):
                lines.append(_dump(assistant(rng, ts, sid, mid, rid, model, out=out)))
        elif r < 0.15:
            lines.append(_dump(assistant(rng, ts, sid, mid, rid, model, side=True)))
        elif r < 0.17:
            d = assistant(rng, ts, sid, mid, rid, "<synthetic>")
            lines.append(_dump(d))
        elif r < 0.18:
            lines.append(_dump(assistant(rng, ts, sid, mid, rid, model, big=True)))
        elif r < 0.19:
            d = assistant(rng, ts, sid, mid, rid, model)
            del d["message"]["id"]
            lines.append(_dump(d))
        elif r < 0.20:
            lines.append(rng.choice(["garbage {{{", '{"truncated":', "\x00\x01binary"]))
        else:
            lines.append(_dump(assistant(rng, ts, sid, mid, rid, model)))
    return lines


def generate(root: Path, *, folders: int = 3, sessions: int = 12, lines: int = 120, seed: int = 1,
             start: datetime | None = None, shared: int = 2) -> list[Path]:
    """Write `folders` Claude data folders under root; `shared` sessions appear in two folders."""
    rng = random.Random(seed)
    start = start or datetime(2026, 3, 1, 8, 0, tzinfo=timezone.utc)
    roots = [root / f"f{i}" for i in range(folders)]
    for s in range(sessions):
        sid = f"sess{s:03d}"
        body = session_lines(rng, sid, start + timedelta(hours=rng.randint(0, 24 * 40)), lines)
        homes = [s % folders]
        if s < shared and folders > 1:
            homes.append((s + 1) % folders)
        for h in homes:
            d = roots[h] / "projects" / f"-home-u-proj{s % 4}"
            d.mkdir(parents=True, exist_ok=True)
            (d / f"{sid}.jsonl").write_text("\n".join(body) + "\n")
        if s % 5 == 0:  # a subagent file of the session
            sub = roots[s % folders] / "projects" / f"-home-u-proj{s % 4}" / sid / "subagents"
            sub.mkdir(parents=True, exist_ok=True)
            (sub / "agent-1.jsonl").write_text("\n".join(session_lines(rng, sid, start + timedelta(days=3), 20)) + "\n")
    for r in roots:
        (r / "projects").mkdir(parents=True, exist_ok=True)
    return roots
