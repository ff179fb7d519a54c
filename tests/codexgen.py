"""Deterministic generator of realistic Codex CLI histories (`CODEX_HOME` folders).

Layout as Codex CLI writes it: `<home>/sessions/YYYY/MM/DD/rollout-<local ts>-<uuid>.jsonl`, some
sessions moved to `archived_sessions/`. A session opens with `session_meta`, then per turn a
`turn_context` (model, cwd, ...), the user message, reasoning / function calls / outputs and one
or more `event_msg` `token_count` lines with `info.total_token_usage` (running total),
`info.last_token_usage` (this request) and `rate_limits`. Also exercised: model switches
mid-session, sessions whose early builds logged no model (fallback gpt-5), `codex-auto-review`
turns, token counts with `info: null`, older lines with only the running total, repeated
token-count lines, a forked session that copies its parent's lines verbatim, a subagent session
that replays its parent's token counts in its first second, garbage and truncated lines, and
partial last lines (a truncated line without "\\n", as a killed writer leaves).

Same arguments -> byte-identical output. CLI: `python -m tests.codexgen OUT --sessions 40`.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

# (model, weight): what Codex CLI users run; every one is priced in ccusage 20.0.24's snapshot.
MODELS: list[tuple[str, float]] = [
    ("gpt-5-codex", 0.22), ("gpt-5", 0.12), ("gpt-5.1-codex", 0.14), ("gpt-5.1-codex-max", 0.10),
    ("gpt-5.2-codex", 0.12), ("gpt-5.3-codex", 0.12), ("gpt-5.4", 0.10), ("gpt-5.1-codex-mini", 0.08),
]
CWDS = ["/home/alice/src/meshd", "/home/alice/src/web-app", "/home/alice/notes", "/srv/build/infra"]
WORDS = ("fix the failing test add a flag refactor parser cache token usage session daemon replica "
         "sync cursor offset merge explain why this panics write docs for the api").split()


@dataclass
class CodexHistory:
    """What generate() wrote."""

    home: Path
    files: list[Path] = field(default_factory=list)
    archived: list[Path] = field(default_factory=list)
    partial_files: list[Path] = field(default_factory=list)
    forked: list[Path] = field(default_factory=list)
    subagents: list[Path] = field(default_factory=list)
    fallback_sessions: int = 0
    garbage_lines: int = 0


def _ts(t: datetime) -> str:
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def _dump(d: dict) -> str:
    return json.dumps(d, separators=(",", ":"), ensure_ascii=False)


def _usage(inp: int, cached: int, out: int, reasoning: int) -> dict:
    return {"input_tokens": inp, "cached_input_tokens": cached, "output_tokens": out,
            "reasoning_output_tokens": reasoning, "total_tokens": inp + out}


def _pick(rng: random.Random) -> str:
    return rng.choices([m for m, _ in MODELS], weights=[w for _, w in MODELS])[0]


class _Session:
    def __init__(self, rng: random.Random, start: datetime, *, no_model: bool, sid: str) -> None:
        self.rng = rng
        self.t = start
        self.sid = sid
        self.cwd = rng.choice(CWDS)
        self.model = _pick(rng)
        self.no_model = no_model
        self.total = [0, 0, 0, 0]  # input, cached, output, reasoning
        self.lines: list[str] = []
        self.token_lines: list[str] = []  # verbatim token_count lines (for forks and subagents)

    def tick(self, lo: float, hi: float) -> datetime:
        self.t += timedelta(seconds=self.rng.uniform(lo, hi))
        return self.t

    def meta(self, extra: dict | None = None) -> None:
        payload = {"id": self.sid, "timestamp": _ts(self.t), "cwd": self.cwd, "originator": "codex_cli_rs",
                   "cli_version": self.rng.choice(["0.46.0", "0.58.0", "0.63.0"]), "instructions": None,
                   "git": {"commit_hash": f"{self.rng.getrandbits(40):010x}", "branch": "main"}}
        if extra:
            payload.update(extra)
        self.lines.append(_dump({"timestamp": _ts(self.t), "type": "session_meta", "payload": payload}))

    def turn(self) -> None:
        rng = self.rng
        if rng.random() < 0.12:
            self.model = _pick(rng)  # /model switch
        model = "codex-auto-review" if rng.random() < 0.04 else self.model
        ctx = {"cwd": self.cwd, "approval_policy": "on-request",
               "sandbox_policy": {"mode": "workspace-write", "network_access": False},
               "effort": rng.choice(["low", "medium", "high"]), "summary": "auto"}
        if not self.no_model:
            ctx["model"] = model
        self.lines.append(_dump({"timestamp": _ts(self.tick(1, 40)), "type": "turn_context", "payload": ctx}))
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 14)))
        self.lines.append(_dump({"timestamp": _ts(self.tick(0.01, 0.2)), "type": "response_item",
                                 "payload": {"type": "message", "role": "user",
                                             "content": [{"type": "input_text", "text": text}]}}))
        self.lines.append(_dump({"timestamp": _ts(self.t), "type": "event_msg",
                                 "payload": {"type": "user_message", "message": text, "images": []}}))
        if rng.random() < 0.15:  # a token count before any usage: info null
            self.lines.append(_dump({"timestamp": _ts(self.tick(0.1, 1)), "type": "event_msg",
                                     "payload": {"type": "token_count", "info": None, "rate_limits": None}}))
        for _ in range(rng.randint(1, 4)):  # requests in this turn
            ctx_size = sum(self.total[:1]) // 4 + rng.randint(2_000, 30_000)
            inp = min(ctx_size, 260_000)
            cached = int(inp * rng.uniform(0.0, 0.92)) if self.total[0] else 0
            out = rng.randint(20, 4_000)
            reasoning = rng.randint(0, out) if rng.random() < 0.7 else 0
            if rng.random() < 0.5:
                self.lines.append(_dump({"timestamp": _ts(self.tick(0.5, 20)), "type": "response_item",
                                         "payload": {"type": "function_call", "name": "shell",
                                                     "arguments": _dump({"command": ["bash", "-lc", "ls"]}),
                                                     "call_id": f"call_{rng.getrandbits(48):012x}"}}))
                self.lines.append(_dump({"timestamp": _ts(self.tick(0.1, 5)), "type": "response_item",
                                         "payload": {"type": "function_call_output", "call_id": "c",
                                                     "output": _dump({"output": "x" * rng.randint(10, 3000),
                                                                      "metadata": {"exit_code": 0}})}}))
            for k, v in enumerate((inp, cached, out, reasoning)):
                self.total[k] += v
            info: dict = {"total_token_usage": _usage(*self.total)}
            if rng.random() < 0.85:  # older builds logged the running total only
                info["last_token_usage"] = _usage(inp, cached, out, reasoning)
                info["model_context_window"] = 272_000
            line = _dump({"timestamp": _ts(self.tick(0.5, 30)), "type": "event_msg",
                          "payload": {"type": "token_count", "info": info, "rate_limits": {
                              "primary": {"used_percent": round(rng.uniform(0, 100), 1), "window_minutes": 300,
                                          "resets_in_seconds": rng.randint(0, 18_000)},
                              "secondary": {"used_percent": round(rng.uniform(0, 100), 1),
                                            "window_minutes": 10_080, "resets_in_seconds": rng.randint(0, 604_800)}}}})
            self.lines.append(line)
            self.token_lines.append(line)
            if rng.random() < 0.05:  # Codex sometimes writes the same token count twice
                self.lines.append(line)
        self.lines.append(_dump({"timestamp": _ts(self.tick(0.1, 3)), "type": "event_msg",
                                 "payload": {"type": "agent_message", "message": "Done."}}))


def _path(base: Path, start: datetime, sid: str) -> Path:
    local = start  # Codex names files by local time; the generator's "local" zone is UTC
    return base / f"{local:%Y}" / f"{local:%m}" / f"{local:%d}" / f"rollout-{local:%Y-%m-%dT%H-%M-%S}-{sid}.jsonl"


def generate(home: Path, *, sessions: int = 40, seed: int = 7, start: datetime | None = None, days: int = 20
             ) -> CodexHistory:
    """Write a Codex home with about `sessions` sessions over `days` days."""
    rng = random.Random(seed)
    start = start or datetime(2026, 3, 1, 8, 0, tzinfo=timezone.utc)
    h = CodexHistory(home)
    written: list[tuple[Path, _Session]] = []
    for i in range(sessions):
        t0 = start + timedelta(days=rng.uniform(0, days), hours=rng.uniform(-6, 10))
        t0 = t0.replace(microsecond=rng.randint(0, 999) * 1000)
        sid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        no_model = rng.random() < 0.08
        s = _Session(rng, t0, no_model=no_model, sid=sid)
        h.fallback_sessions += no_model
        s.meta()
        for _ in range(rng.randint(1, 12)):
            s.turn()
        archived = rng.random() < 0.2
        path = _path(home / ("archived_sessions" if archived else "sessions"), t0, sid)
        if archived:
            h.archived.append(path)
        written.append((path, s))
    # a forked session: the parent's lines verbatim, then its own turns
    for parent_path, parent in written[:: max(1, sessions // 3)][:2]:
        fork = _Session(rng, parent.t + timedelta(minutes=5), no_model=False,
                        sid=str(uuid.UUID(int=rng.getrandbits(128), version=4)))
        fork.cwd, fork.model, fork.total = parent.cwd, parent.model, list(parent.total)
        fork.meta({"forked_from_id": parent.sid})
        fork.lines.extend(parent.lines[1:])
        for _ in range(rng.randint(1, 3)):
            fork.turn()
        p = _path(home / "sessions", fork.t, fork.sid)
        h.forked.append(p)
        written.append((p, fork))
    # a subagent: its first second replays the parent's token counts (retimed), then its own work
    parent_path, parent = written[0]
    sub = _Session(rng, parent.t + timedelta(minutes=1), no_model=False,
                   sid=str(uuid.UUID(int=rng.getrandbits(128), version=4)))
    sub.cwd, sub.model = parent.cwd, parent.model
    sub.meta({"source": {"subagent": {"thread_spawn": {"parent_thread_id": parent.sid, "depth": 1}}}})
    replay_at = sub.t.replace(microsecond=0)
    for k, line in enumerate(parent.token_lines):
        d = json.loads(line)
        d["timestamp"] = _ts(replay_at + timedelta(milliseconds=k))
        sub.lines.append(_dump(d))
    sub.total = list(parent.total)
    sub.t = replay_at + timedelta(seconds=2)
    for _ in range(rng.randint(1, 3)):
        sub.turn()
    p = _path(home / "sessions", sub.t, sub.sid)
    h.subagents.append(p)
    written.append((p, sub))

    for path, s in written:
        lines = list(s.lines)
        if rng.random() < 0.3:  # garbage: a torn line mid-file, binary junk
            k = rng.randrange(1, len(lines))
            lines.insert(k, _torn(lines[k], len(lines[k]) // 2))
            lines.insert(k, "\x00\x01garbage{{")
            h.garbage_lines += 2
        body = "\n".join(lines) + "\n"
        if rng.random() < 0.2:  # a writer killed mid-line: a truncated last line without "\n"
            tail = _dump({"timestamp": _ts(s.tick(1, 5)), "type": "event_msg", "payload": {
                "type": "token_count", "info": {"total_token_usage": _usage(*[v + 999 for v in s.total])}}})
            body += _torn(tail, len(tail) * 2 // 3)
            h.partial_files.append(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body.encode())
        h.files.append(path)
    h.files.sort()
    return h


def _torn(line: str, cut: int) -> str:
    """The first `cut` characters of a line, as a killed writer leaves it; never ending right after
    `"type":` or `"type":"`, which makes ccusage 20.0.24 panic (docs/ccusage-compat.md C10)."""
    while line[:cut].endswith(('"type":', '"type":"')):
        cut -= 1
    return line[:cut]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--sessions", type=int, default=40)
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args(argv)
    h = generate(a.out, sessions=a.sessions, seed=a.seed)
    print(f"{len(h.files)} files in {a.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
