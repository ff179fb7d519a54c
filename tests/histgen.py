"""Deterministic generator of realistic Claude Code 2.x histories spread over several config folders.

Layout: `<root>/<folder>/projects/<encoded-cwd>/<session>.jsonl` plus
`<session>/subagents/agent-<id>.jsonl`. Everything ccusage 20.0.24 cares about is exercised (see
docs/ccusage-compat.md): split responses, sidechain replays, `<synthetic>`, fast mode, unknown
models, >200k-token entries, costUSD, garbage, partial last lines, verbatim copies across
folders, multi-day sessions with > 5 h gaps. Same arguments → byte-identical output.

CLI (for the bench): `python -m tests.histgen OUT --mb 200 --folders 3`.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import sys
import time
import uuid
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

__all__ = ["GeneratedHistory", "generate", "append_lines", "complete_partial_line", "replace_with_shorter",
           "format_ts", "MODELS"]

# (model, weight). Dated ids as Claude Code writes them; opus-4-6 is the fast-mode model.
MODELS: list[tuple[str, float]] = [
    ("claude-sonnet-4-5-20250929", 0.50),
    ("claude-opus-4-1-20250805", 0.12),
    ("claude-haiku-4-5-20251001", 0.18),
    ("claude-opus-4-6", 0.17),
    ("claude-experimental-z9", 0.015),   # unknown to pricing: cost 0, tokens count
    ("gpt-oss-local-120b", 0.015),
]
VERSIONS = ["2.0.14", "2.0.27", "2.0.31", "2.1.3", "2.1.9"]
BRANCHES = ["main", "main", "dev", "feature/sync", "fix/parser"]
WORDS = ("the of and to in is that for it with as was on be by this are from at or an have not but which "
         "function return value error file path import class self def const let async await test data line "
         "token usage model cache block session project device merge replica vector sequence epoch peer "
         "sqlite index query commit branch build install config daemon socket stream batch cursor offset").split()
_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_PARTIAL_TAIL = 'Z"}\n'            # what complete_partial_line appends
_TS_RE = re.compile(rb'"timestamp":"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})Z"')


@dataclass
class GeneratedHistory:
    """What generate() wrote, for tests and benches."""

    root: Path
    folders: list[Path]
    files: list[Path] = field(default_factory=list)
    shared: list[tuple[Path, Path]] = field(default_factory=list)     # verbatim copies (original, copy)
    partial_files: list[Path] = field(default_factory=list)          # end in a line without "\n"
    subagent_files: list[Path] = field(default_factory=list)
    total_bytes: int = 0
    usage_lines: int = 0            # lines carrying message.usage (before dedup, copies included)
    sessions: int = 0
    first_ts: datetime | None = None
    last_ts: datetime | None = None

    @property
    def claude_config_dir(self) -> str:
        """The CLAUDE_CONFIG_DIR value naming every folder."""
        return ",".join(str(f) for f in self.folders)


def format_ts(ts: datetime) -> str:
    """Claude Code's timestamp format: UTC, milliseconds, `Z`."""
    ts = ts.astimezone(timezone.utc)
    return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


def _dump(d: dict) -> str:
    return json.dumps(d, separators=(",", ":"), ensure_ascii=False)


class _Writer:
    """Builds one history; all randomness comes from one seeded Random."""

    def __init__(self, rng: random.Random, pool_words: int = 400_000) -> None:
        self.rng = rng
        self.pool = " ".join(rng.choices(WORDS, k=pool_words)).replace(" line ", "\nline ")
        self.usage_lines = 0
        self.first: datetime | None = None
        self.last: datetime | None = None

    def _id(self, prefix: str, n: int) -> str:
        r = self.rng
        return prefix + "".join(r.choice(_B62) for _ in range(n))

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def text(self, n: int) -> str:
        n = min(n, len(self.pool) - 2)   # append_lines' small pool is shorter than the largest tool results
        o = self.rng.randrange(0, len(self.pool) - n - 1)
        return self.pool[o:o + n]

    def _seen(self, ts: datetime) -> None:
        if self.first is None or ts < self.first:
            self.first = ts
        if self.last is None or ts > self.last:
            self.last = ts

    def base(self, s: dict, ts: datetime, kind: str, parent: str | None, side: bool) -> dict:
        self._seen(ts)
        d = {"parentUuid": parent, "isSidechain": side, "userType": "external", "cwd": s["cwd"],
             "sessionId": s["sid"], "version": s["version"], "gitBranch": s["branch"]}
        if side and s.get("agent"):
            d["agentId"] = s["agent"]
        d["type"] = kind
        return d

    def usage(self, model: str, *, big: bool = False) -> dict:
        r = self.rng
        if big:                                    # over 200k in one token type: tiered pricing
            inp, cr = (r.randint(200_001, 420_000), r.randint(0, 50_000)) if r.random() < 0.5 else \
                      (r.randint(1, 30), r.randint(200_001, 600_000))
        else:
            inp = r.choice((r.randint(1, 12), r.randint(3, 40), r.randint(100, 6000)))
            cr = 0 if r.random() < 0.08 else int(r.triangular(2_000, 160_000, 30_000))
        u: dict = {"input_tokens": inp}
        c5 = 0 if r.random() < 0.4 else int(r.expovariate(1 / 2500))
        c1 = int(r.expovariate(1 / 4000)) if r.random() < 0.15 else 0
        u["cache_creation_input_tokens"] = c5 + c1
        u["cache_read_input_tokens"] = cr
        if r.random() < 0.9:
            u["cache_creation"] = {"ephemeral_5m_input_tokens": c5, "ephemeral_1h_input_tokens": c1}
        u["output_tokens"] = max(1, int(r.expovariate(1 / 450)))
        u["service_tier"] = "standard"
        if r.random() < 0.1:
            u["server_tool_use"] = {"web_search_requests": r.randint(0, 3), "web_fetch_requests": 0}
        if model == "claude-opus-4-6" and r.random() < 0.25:
            u["speed"] = "fast"
        return u

    def assistant(self, s: dict, ts: datetime, parent: str | None, *, side: bool = False, model: str | None = None,
                  mid: str | None = None, rid: str | None = None, usage: dict | None = None,
                  content: list | None = None, stop: str | None = None) -> dict:
        r = self.rng
        model = model or s["model"]
        d = self.base(s, ts, "assistant", parent, side)
        d["message"] = {"id": mid or self._id("msg_01", 22), "type": "message", "role": "assistant", "model": model,
                        "content": content or [{"type": "text", "text": self.text(r.randint(20, 900))}],
                        "stop_reason": stop, "stop_sequence": None, "usage": usage or self.usage(model)}
        d["requestId"] = rid or self._id("req_011C", 20)
        d["uuid"] = self._uuid()
        d["timestamp"] = format_ts(ts)
        if r.random() < 0.03:
            d["costUSD"] = round(r.random() * 0.4, 6)
        self.usage_lines += 1
        return d

    def user(self, s: dict, ts: datetime, parent: str | None, *, side: bool = False, tool: bool = True) -> dict:
        r = self.rng
        d = self.base(s, ts, "user", parent, side)
        if tool:
            n = min(120_000, int(r.paretovariate(1.3) * 600))
            body = self.text(n)
            d["message"] = {"role": "user", "content": [{"tool_use_id": self._id("toolu_01", 22), "type": "tool_result",
                                                          "content": body, "is_error": r.random() < 0.03}]}
            d["toolUseResult"] = {"stdout": body[: n // 2], "stderr": "", "interrupted": False, "isImage": False}
        else:
            d["message"] = {"role": "user", "content": self.text(r.randint(10, 600))}
        d["uuid"] = self._uuid()
        d["timestamp"] = format_ts(ts)
        return d

    def synthetic(self, s: dict, ts: datetime, parent: str | None) -> dict:
        r = self.rng
        limit = r.random() < 0.15
        u = {"input_tokens": 0, "output_tokens": 0, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
        if r.random() < 0.2:  # a few synthetic lines with tokens: counted, but never a model
            u = {"input_tokens": r.randint(1, 50), "output_tokens": r.randint(1, 20),
                 "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
        text = (f"Claude AI usage limit reached|{int(ts.timestamp()) + 3600 * r.randint(1, 4)}" if limit
                else "No response requested.")
        d = self.base(s, ts, "assistant", parent, False)
        d["message"] = {"id": self._uuid(), "model": "<synthetic>", "role": "assistant", "stop_reason": "stop_sequence",
                        "stop_sequence": "", "type": "message", "usage": u,
                        "content": [{"type": "text", "text": text}]}
        d["uuid"] = self._uuid()
        d["timestamp"] = format_ts(ts)
        if limit:
            d["isApiErrorMessage"] = True
        self.usage_lines += 1
        return d

    def garbage(self) -> str:
        r = self.rng
        k = r.randrange(5)
        if k == 0:
            return "{}"
        if k == 1:
            return '{"type":"assistant","message":{"usage":{"input_tokens":12,"output_tok'
        if k == 2:
            # raw bytes, mostly invalid UTF-8 (written through surrogateescape)
            return "".join(chr(0xDC80 + b - 0x80) if b >= 0x80 else chr(b)
                           for b in (r.choice((r.randint(1, 9), r.randint(11, 0x7e), r.randint(0x80, 0xff)))
                                     for _ in range(r.randint(8, 120))))
        if k == 3:
            return '{"type":"summary","summary":"' + self.text(60) + '","leafUuid":"' + self._uuid() + '"}'
        return '{"type":"file-history-snapshot","messageId":"' + self._uuid() + '","snapshot":{},"isSnapshotUpdate":false}'

    def turns(self, s: dict, t: datetime, n: int, *, side: bool = False,
              replay_from: list[dict] | None = None) -> tuple[list[str], datetime, list[dict]]:
        """n user→assistant turns from t; returns lines, the last timestamp and the usage lines."""
        r = self.rng
        out: list[str] = []
        emitted: list[dict] = []
        parent: str | None = None
        if not side:
            u = self.user(s, t, None, tool=False)
            out.append(_dump(u))
            parent = u["uuid"]
        for _ in range(n):
            t += timedelta(seconds=r.uniform(2, 90))
            x = r.random()
            if replay_from and x < 0.06:       # /btw sidechain replay of a parent message: new requestId
                src = r.choice(replay_from)
                a = self.assistant(s, t, parent, side=True, model=src["message"]["model"], mid=src["message"]["id"],
                                   usage=dict(src["message"]["usage"], cache_read_input_tokens=r.randint(20_000, 90_000)))
                out.append(_dump(a))
                emitted.append(a)
            elif not side and x < 0.02:
                out.append(_dump(self.synthetic(s, t, parent)))
            elif x < 0.025:
                out.append(self.garbage())
            else:
                model = s["model"] if r.random() < 0.85 else r.choices([m for m, _ in MODELS], [w for _, w in MODELS])[0]
                usage = self.usage(model, big=r.random() < 0.004)
                mid, rid = self._id("msg_01", 22), self._id("req_011C", 20)
                parts = 1 if r.random() < 0.55 else r.randint(2, 4)   # one response streamed over several lines
                outs = sorted(r.sample(range(1, max(parts + 1, usage["output_tokens"] + 1)), parts))
                outs[-1] = max(outs[-1], usage["output_tokens"])
                for i, o in enumerate(outs):
                    last = i == parts - 1
                    content = ([{"type": "tool_use", "id": self._id("toolu_01", 22), "name": r.choice(("Bash", "Read", "Edit", "Grep")),
                                 "input": {"command": self.text(r.randint(10, 200))}}] if last and r.random() < 0.7
                               else [{"type": r.choice(("text", "thinking")), "text": self.text(r.randint(20, 1200))}])
                    a = self.assistant(s, t + timedelta(milliseconds=300 * i), parent, side=side, model=model, mid=mid, rid=rid,
                                       usage=dict(usage, output_tokens=o), content=content,
                                       stop="tool_use" if last else None)
                    out.append(_dump(a))
                    emitted.append(a)
                    parent = a["uuid"]
            t += timedelta(seconds=r.uniform(1, 40))
            u = self.user(s, t, parent, side=side)
            out.append(_dump(u))
            parent = u["uuid"]
        return out, t, emitted


def _encode_cwd(cwd: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "-", cwd)


def generate(root: Path, *, folders: int = 3, target_bytes: int = 5 << 20, seed: int = 1,
             start: datetime | None = None, days: int = 30, now: datetime | None = None,
             sessions: int | None = None, lines: int | None = None) -> GeneratedHistory:
    """Write about target_bytes of Claude Code logs into folders f0..f{n-1} under root.

    `now`: when given, no timestamp is later than now and the last session ends minutes before it
    (so an active block exists). `sessions`/`lines` are the old size knobs (≈ 2 KB per line).
    """
    if sessions is not None:
        target_bytes = sessions * (lines or 120) * 2000
    rng = random.Random(seed)
    w = _Writer(rng)
    start = (start or datetime(2026, 3, 1, 8, 0, tzinfo=timezone.utc)).astimezone(timezone.utc)
    end = start + timedelta(days=days)
    if now is not None:
        end = min(end, now - timedelta(minutes=10))
    root = Path(root)
    fdirs = [root / f"f{i}" for i in range(folders)]
    hist = GeneratedHistory(root=root, folders=fdirs)
    cwds = [f"/home/{u}/src/{p}" for u in ("alice", "bob") for p in ("meshd", "web-app", "infra", "notes", "ml.exp")]
    span = max(60.0, (end - start).total_seconds())
    # session start times, spread over the span; the last one is pinned near `now`
    written = 0
    k = 0
    files: list[Path] = []
    while written < target_bytes:
        s = {"sid": str(uuid.UUID(int=rng.getrandbits(128), version=4)), "cwd": rng.choice(cwds),
             "version": rng.choice(VERSIONS), "branch": rng.choice(BRANCHES),
             "model": rng.choices([m for m, _ in MODELS[:4]], [0.55, 0.12, 0.15, 0.18])[0]}
        t0 = start + timedelta(seconds=rng.uniform(0, max(0.0, span - 4 * 3600) if now else span * 0.97))
        home = fdirs[k % folders] if rng.random() < 0.6 else rng.choice(fdirs)
        lines_out: list[str] = []
        emitted: list[dict] = []
        t = t0
        for seg in range(rng.choice((1, 1, 1, 2, 3))):   # >5 h gaps inside some sessions
            if seg:
                gap = timedelta(hours=rng.uniform(5.2, 30))
                if now is not None and t + gap + timedelta(hours=3) > end:
                    break
                t += gap
            part, t, em = w.turns(s, t, rng.randint(8, 70))
            lines_out += part
            emitted += em
        proj = home / "projects" / _encode_cwd(s["cwd"])
        body = "\n".join(lines_out) + "\n"
        partial = rng.random() < 0.08 or k == 1
        if partial:   # Claude Code was mid-write: the last line has no newline (and is cut)
            a = w.assistant(s, t + timedelta(seconds=5), None)
            full = _dump(a)
            body += full[: full.rindex('"timestamp":"') + len('"timestamp":"') + 23]
        fpath = proj / f"{s['sid']}.jsonl"
        proj.mkdir(parents=True, exist_ok=True)
        data = body.encode("utf-8", "surrogateescape")
        fpath.write_bytes(data)
        written += len(data)
        files.append(fpath)
        if partial:
            hist.partial_files.append(fpath)
        if rng.random() < 0.3:   # a Task subagent: sidechain file, some replays of parent messages
            agent = "".join(rng.choice("0123456789abcdef") for _ in range(8))
            sa = dict(s, agent=agent)
            sub, _, _ = w.turns(sa, t0 + timedelta(seconds=rng.uniform(30, 600)), rng.randint(3, 25), side=True,
                                replay_from=[e for e in emitted if not e["isSidechain"]][:50])
            sp = proj / s["sid"] / "subagents" / f"agent-{agent}.jsonl"
            sp.parent.mkdir(parents=True, exist_ok=True)
            sdata = ("\n".join(sub) + "\n").encode()
            sp.write_bytes(sdata)
            written += len(sdata)
            files.append(sp)
            hist.subagent_files.append(sp)
        if folders > 1 and (k == 0 or rng.random() < 0.15):   # the multi-machine copy: same bytes in another folder
            other = rng.choice([f for f in fdirs if f != home])
            cp = other / "projects" / proj.name / fpath.name
            cp.parent.mkdir(parents=True, exist_ok=True)
            if rng.random() < 0.75:
                shutil.copyfile(fpath, cp)
            else:                   # an older copy: a prefix of the file, cut at a line end
                cut = data.rfind(b"\n", 0, max(1, len(data) // 2)) + 1
                cp.write_bytes(data[:cut])
            written += cp.stat().st_size
            files.append(cp)
            hist.shared.append((fpath, cp))
        k += 1
    if now is not None:         # an active session minutes before now, in f0
        s = {"sid": str(uuid.UUID(int=rng.getrandbits(128), version=4)), "cwd": cwds[0], "version": VERSIONS[-1],
             "branch": "main", "model": MODELS[0][0]}
        part, _, _ = w.turns(s, now - timedelta(minutes=50), 20)
        part = [ln for ln in part if _TS_RE.search(ln.encode()) is None or
                _TS_RE.search(ln.encode()).group(1).decode() < format_ts(now)[:23]]
        fp = fdirs[0] / "projects" / _encode_cwd(s["cwd"]) / f"{s['sid']}.jsonl"
        fp.parent.mkdir(parents=True, exist_ok=True)
        fp.write_text("\n".join(part) + "\n")
        files.append(fp)
        k += 1
    for f in fdirs:
        (f / "projects").mkdir(parents=True, exist_ok=True)
    hist.files = sorted(files)
    hist.total_bytes = sum(p.stat().st_size for p in hist.files)
    hist.usage_lines = w.usage_lines
    hist.sessions = k
    hist.first_ts, hist.last_ts = w.first, w.last
    return hist


def _file_rng(file: Path, salt: str) -> random.Random:
    size = file.stat().st_size if file.exists() else 0
    return random.Random(zlib.crc32(f"{file.name}:{size}:{salt}".encode()))


def _last_ts(data: bytes) -> datetime:
    found = _TS_RE.findall(data[-200_000:]) or _TS_RE.findall(data)
    if not found:
        return datetime(2026, 3, 1, tzinfo=timezone.utc)
    last = max(found).decode()
    return datetime.strptime(last, "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=timezone.utc)


def complete_partial_line(file: Path) -> bool:
    """Finish a cut last line written by generate() (appends `Z"}` + newline); False if none."""
    file = Path(file)
    data = file.read_bytes()
    if not data or data.endswith(b"\n"):
        return False
    tail = data[data.rfind(b"\n") + 1:]
    if not re.search(rb'"timestamp":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}$', tail):
        raise ValueError(f"{file}: last line is not a partial line made by histgen")
    with file.open("ab") as fh:
        fh.write(_PARTIAL_TAIL.encode())
    return True


def append_lines(file: Path, n: int) -> list[dict]:
    """Append n new assistant usage lines (each after a tool-result line) continuing the session.

    A partial last line is completed first, as Claude Code would. Returns the appended usage lines.
    """
    file = Path(file)
    complete_partial_line(file)
    data = file.read_bytes()
    rng = _file_rng(file, f"append{n}")
    w = _Writer(rng, pool_words=20_000)
    sid = file.stem if file.parent.name != "subagents" else file.parent.parent.name
    s = {"sid": sid, "cwd": "/home/alice/src/meshd", "version": VERSIONS[-1], "branch": "main", "model": MODELS[0][0]}
    t = _last_ts(data)
    out: list[str] = []
    added: list[dict] = []
    parent = None
    for _ in range(n):
        t += timedelta(seconds=rng.uniform(3, 60))
        u = w.user(s, t, parent)
        t += timedelta(seconds=rng.uniform(2, 30))
        a = w.assistant(s, t, u["uuid"])
        out += [_dump(u), _dump(a)]
        added.append(a)
        parent = a["uuid"]
    with file.open("ab") as fh:
        fh.write(("\n".join(out) + "\n").encode())
    return added


def replace_with_shorter(file: Path) -> int:
    """Replace file (new inode, atomically) by its first half, cut at a line end; returns the new size."""
    file = Path(file)
    data = file.read_bytes()
    cut = data.rfind(b"\n", 0, max(1, len(data) // 2)) + 1
    tmp = file.with_name(file.name + ".tmp-histgen")
    tmp.write_bytes(data[:cut])
    os.replace(tmp, file)
    return cut


def main(argv: list[str] | None = None) -> int:
    """CLI: write a history of about --mb megabytes into OUT and print a JSON summary."""
    ap = argparse.ArgumentParser(prog="python -m tests.histgen", description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--mb", type=float, default=200)
    ap.add_argument("--folders", type=int, default=3)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--days", type=int, default=60)
    ap.add_argument("--start", default="2026-01-05T00:00:00Z")
    ap.add_argument("--now", default=None, help="ISO time; puts an active session just before it")
    a = ap.parse_args(argv)
    iso = lambda v: datetime.fromisoformat(v.replace("Z", "+00:00"))  # noqa: E731
    t = time.perf_counter()
    h = generate(a.out, folders=a.folders, target_bytes=int(a.mb * (1 << 20)), seed=a.seed, start=iso(a.start),
                 days=a.days, now=iso(a.now) if a.now else None)
    print(json.dumps({"seconds": round(time.perf_counter() - t, 2), "bytes": h.total_bytes, "files": len(h.files),
                      "sessions": h.sessions, "usage_lines": h.usage_lines, "shared": len(h.shared),
                      "partial": len(h.partial_files), "CLAUDE_CONFIG_DIR": h.claude_config_dir}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
