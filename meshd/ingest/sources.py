"""Where usage logs live: the folders ccusage reads, and the files in them."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

from meshd.errors import SourceError


class LogFile(NamedTuple):
    """One log file (a NamedTuple, not a dataclass: every report lists the files, see meshd/warm.py)."""

    path: str  # absolute
    source: str  # the root folder it came from
    project: str
    session_id: str
    provider: str = "claude"


def claude_roots(env: dict[str, str] | None = None, configured: tuple[str, ...] | None = None) -> list[Path]:
    """Claude data folders: CLAUDE_CONFIG_DIR (comma list), else config, else ~/.config/claude and ~/.claude.

    Only folders with a `projects/` subfolder count. An explicit list where none qualifies is
    an error, as in ccusage.
    """
    env = os.environ if env is None else env
    raw = env.get("CLAUDE_CONFIG_DIR", "").strip()
    explicit: list[str] | None = None
    if raw:
        explicit = [p.strip() for p in raw.split(",") if p.strip()]
    elif configured:
        explicit = list(configured)
    if explicit is not None:
        roots = _dedupe(_normalize(p) for p in explicit)
        found = [r for r in roots if (r / "projects").is_dir()]
        if not found:
            raise SourceError(
                "no valid Claude data folder in " + ", ".join(str(r) for r in roots),
                hint="each folder must contain projects/ (check CLAUDE_CONFIG_DIR or claude_dirs)",
            )
        return found
    home = Path(env.get("HOME") or Path.home())
    xdg = env.get("XDG_CONFIG_HOME")
    candidates = [(Path(xdg) if xdg else home / ".config") / "claude", home / ".claude"]
    return [r for r in _dedupe(c.absolute() for c in candidates) if (r / "projects").is_dir()]


def _normalize(p: str) -> Path:
    path = Path(os.path.expanduser(p)).absolute()
    if path.name == "projects":
        path = path.parent
    return path


def _dedupe(paths: Iterator[Path] | list[Path]) -> list[Path]:
    seen: set[str] = set()
    out: list[Path] = []
    for p in paths:
        key = os.path.realpath(p)
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out


def claude_files(root: Path) -> list[LogFile]:
    """Every `projects/**/*.jsonl` under a root, sorted by path.

    Every report lists these files first, so this stays cheap: names are split per folder with
    string operations, not per file with path objects."""
    projects = str(root / "projects")
    prefix = projects + os.sep
    src = str(root)
    out: list[LogFile] = []
    for dirpath, _dirs, files in os.walk(projects, followlinks=False):
        if not dirpath.startswith(prefix):
            continue  # projects/ itself: a file directly in it has no project
        parts = dirpath[len(prefix):].split(os.sep)
        project = parts[0]
        sub = parts[-2] if len(parts) >= 2 and parts[-1] == "subagents" else None
        for name in files:
            if name.endswith(".jsonl"):
                out.append(LogFile(os.path.join(dirpath, name), src, project, sub or name[: -len(".jsonl")]))
    out.sort(key=lambda f: f.path)
    return out


CODEX_DIRS = ("sessions", "archived_sessions")


def codex_roots(env: dict[str, str] | None = None, configured: tuple[str, ...] | None = None) -> list[Path]:
    """Codex CLI data folders: CODEX_HOME (comma list), else config `codex_dirs`, else ~/.codex.

    As ccusage: entries are trimmed and empties dropped; a missing folder is simply not read.
    """
    env = os.environ if env is None else env
    raw = env.get("CODEX_HOME")
    if raw is not None:
        listed = [p.strip() for p in raw.split(",") if p.strip()]
    elif configured:
        listed = list(configured)
    else:
        listed = [str(Path(env.get("HOME") or Path.home()) / ".codex")]
    roots = [Path(os.path.expanduser(p)).absolute() for p in listed if "\x00" not in p]
    return _dedupe([r for r in roots if _is_dir(r)])


def _is_dir(p: Path) -> bool:
    """Whether p is a folder; False for names the OS refuses (too long, ...)."""
    try:
        return p.is_dir()
    except OSError:
        return False


def codex_files(root: Path) -> list[LogFile]:
    """Every `*.jsonl` under `sessions/` and `archived_sessions/` of a Codex root, sorted by path.

    The session id is the path relative to that folder without `.jsonl` (so a session moved to
    archived_sessions/ keeps its id and its entries dedup). A root with neither folder is read
    as a folder of JSONL files itself, as ccusage does.
    """
    dirs = [root / d for d in CODEX_DIRS if _is_dir(root / d)] or [root]
    out: list[LogFile] = []
    for base in dirs:
        for dirpath, _dirs, files in os.walk(base, followlinks=False):
            for name in files:
                if not name.endswith(".jsonl") or name == ".jsonl":
                    continue
                full = os.path.join(dirpath, name)
                if os.path.islink(full):
                    continue
                rel = os.path.relpath(full, base)[: -len(".jsonl")].replace(os.sep, "/")
                out.append(LogFile(full, str(root), "", rel, "codex"))
    out.sort(key=lambda f: f.path)
    return out


def local_files(claude_dirs: tuple[str, ...] | None = None, codex_dirs: tuple[str, ...] | None = None
                ) -> list[LogFile]:
    """Every log file of every local source (config's claude_dirs / codex_dirs, environment first)."""
    files: list[LogFile] = []
    for root in claude_roots(configured=claude_dirs):
        files.extend(claude_files(root))
    for root in codex_roots(configured=codex_dirs):
        files.extend(codex_files(root))
    return files


def has_newline(path: str, offset: int) -> bool:
    """Whether a file holds a newline after `offset`, i.e. a complete line not yet read from there."""
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            while True:
                block = f.read(1 << 20)
                if not block:
                    return False
                if b"\n" in block:
                    return True
    except OSError:
        return False
