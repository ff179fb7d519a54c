"""Incremental, crash-safe reading of one JSONL file into the device log.

A cursor per file holds its identity (device, inode, a hash of its head), the byte offset after
the last complete line and the line number there. Each chunk of new lines is appended to the log
in the same transaction that advances the cursor, so a crash at any instant loses nothing and
doubles nothing. A partial last line waits for the next run. A file that shrank, changed inode
or whose head changed was replaced: it is read again from the start, and the dedup keys
(message ids, or line keys for lines without one) keep anything from counting twice.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Protocol

import orjson

from meshd.core.claude_log import USAGE_MARKER, MalformedLine, marked_record, parse_line
from meshd.core.entry import UsageEntry
from meshd.ingest.sources import LogFile, has_newline
from meshd.store.replica import Replica, transaction

if TYPE_CHECKING:
    from meshd.store.materialize import Row

CHUNK = 8 << 20
MAX_LINE = 64 << 20
HEAD = 4096

Parser = Callable[[bytes, str, str], "UsageEntry | None"]


class ChunkParser(Protocol):
    """A parser whose lines depend on earlier lines of the same file (Codex's running totals).

    `begin` loads the file's parse state inside the chunk's transaction (a fresh read starts over),
    `parse` turns complete lines into entries, and `commit` stores the state in the same
    transaction as the cursor, so state and cursor always agree.
    """

    def begin(self, conn: sqlite3.Connection, lf: LogFile, fresh: bool) -> None: ...

    def parse(self, body: bytes, lineno: int, lf: LogFile, device_id: str
              ) -> tuple[list[UsageEntry], int, str | None, int]: ...

    def commit(self, conn: sqlite3.Connection, lf: LogFile) -> None: ...


@dataclass(slots=True)
class Cursor:
    dev: int
    ino: int
    size: int
    mtime_ns: int
    offset: int
    head: str
    lineno: int


@dataclass(slots=True)
class FileResult:
    entries: int = 0
    skipped: int = 0
    bytes_read: int = 0
    replaced: bool = False


def load_cursors(conn: sqlite3.Connection) -> dict[str, Cursor]:
    """Every file cursor, for the cheap 'nothing changed' check."""
    return {
        r[0]: Cursor(*r[1:])
        for r in conn.execute("SELECT path, dev, ino, size, mtime_ns, offset, head, lineno FROM files")
    }


def unchanged(cur: Cursor | None, st: os.stat_result, path: str | None = None) -> bool:
    """Nothing to read: same file, same size and mtime, and (given its path) no complete line past
    the cursor; a crash between two chunks of one file leaves one, a partial last line does not."""
    if not (
        cur is not None
        and cur.dev == st.st_dev
        and cur.ino == st.st_ino
        and cur.size == st.st_size
        and cur.mtime_ns == st.st_mtime_ns
    ):
        return False
    return cur.offset >= cur.size or path is None or not has_newline(path, cur.offset)


def _head_hash(f, length: int) -> str:  # type: ignore[no-untyped-def]
    f.seek(0)
    return f"{length}:{hashlib.sha1(f.read(length)).hexdigest()}"


def _line_key(device_id: str, path: str, lineno: int, line: bytes) -> str:
    h = hashlib.blake2b(digest_size=12)
    h.update(device_id.encode())
    h.update(b"\0")
    h.update(path.encode("utf-8", "surrogateescape"))
    h.update(lineno.to_bytes(8, "little"))
    h.update(line)
    return h.hexdigest()


def ingest_file(
    replica: Replica,
    lf: LogFile,
    parser: Parser = parse_line,
    progress: Callable[[int], None] | None = None,
    pre: Parsed | None = None,
    chunk: ChunkParser | None = None,
) -> FileResult:
    """Read what is new in one file, chunk by chunk, each chunk in its own transaction.

    `pre` is a chunk parsed ahead in another process; it is used only if the cursor and the
    file are exactly as when it was planned, so it can never double or skip a line.
    """
    res = FileResult()
    conn = replica.conn
    while True:
        try:
            f = open(lf.path, "rb")
        except OSError:
            return res  # vanished or unreadable: keep what we have
        with f:
            st = os.fstat(f.fileno())
            with transaction(conn):
                row = conn.execute(
                    "SELECT dev, ino, size, mtime_ns, offset, head, lineno FROM files WHERE path=?",
                    (lf.path,),
                ).fetchone()
                cur = Cursor(*row) if row else None
                start, lineno, fresh = _resume_point(f, cur, st)
                if not fresh and start >= st.st_size:
                    _save_cursor(conn, lf, st, start, f, lineno, 0, 0, None, reset=False)
                    return res
                res.replaced |= cur is not None and fresh
                if chunk is not None:
                    chunk.begin(conn, lf, fresh)
                if pre is not None and chunk is None and pre.matches(row, st, start):
                    bodies, rows = pre.bodies, pre.rows
                    consumed, lineno, skipped, last_skip = pre.consumed, pre.lineno_end, pre.skipped, pre.last_skip
                else:
                    f.seek(start)
                    body, consumed = _read_lines(f)
                    if not consumed:
                        # Only a partial line: it waits for the next run.
                        _save_cursor(conn, lf, st, start, f, lineno, 0, 0, None, reset=fresh)
                        return res
                    if chunk is not None:
                        entries, skipped, last_skip, lineno = chunk.parse(body, lineno, lf, replica.device_id)
                        bodies, rows = record_bodies(entries)
                    else:
                        bodies, rows, skipped, last_skip, lineno = parse_bodies(
                            body, lineno, lf, replica.device_id, parser)
                pre = None  # a prefetched plan is good for one step only
                if bodies:
                    replica.append_usage_rows(bodies, rows)
                new_offset = start + consumed
                if chunk is not None:
                    chunk.commit(conn, lf)
                _save_cursor(conn, lf, st, new_offset, f, lineno, len(bodies), skipped, last_skip, reset=fresh)
            res.entries += len(bodies)
            res.skipped += skipped
            res.bytes_read += consumed
            if progress is not None:
                progress(consumed)
            if new_offset >= st.st_size:
                return res


GROUP_BYTES = 16 << 20  # new bytes of small files ingested in one transaction


def ingest_group(
    replica: Replica,
    files: list[tuple[LogFile, Parsed | None]],
    parser: Parser = parse_line,
    progress: Callable[[int], None] | None = None,
) -> tuple[FileResult, list[LogFile]]:
    """The next chunk of several files in ONE transaction: their entries in one append, every
    cursor advanced with them (as crash-safe as one file per transaction, with far fewer commits
    and one bulk materialization). Returns the totals and the files with more to read (for
    `ingest_file`). `files` pairs each file with a chunk parsed ahead, or None.
    """
    res = FileResult()
    more: list[LogFile] = []
    conn = replica.conn
    bodies: list[bytes] = []
    rows: list[Row] = []
    saves: list[tuple[object, ...]] = []
    with transaction(conn):
        for lf, pre in files:
            try:
                f = open(lf.path, "rb")
            except OSError:
                continue  # vanished or unreadable: keep what we have
            with f:
                st = os.fstat(f.fileno())
                row = conn.execute(
                    "SELECT dev, ino, size, mtime_ns, offset, head, lineno FROM files WHERE path=?", (lf.path,)
                ).fetchone()
                cur = Cursor(*row) if row else None
                start, lineno, fresh = _resume_point(f, cur, st)
                if not fresh and start >= st.st_size:
                    saves.append((lf, st, start, _head(f, start), lineno, 0, 0, None, False))
                    continue
                res.replaced |= cur is not None and fresh
                if pre is not None and pre.matches(row, st, start):
                    got, got_rows = pre.bodies, pre.rows
                    consumed, lineno, skipped, last_skip = pre.consumed, pre.lineno_end, pre.skipped, pre.last_skip
                else:
                    f.seek(start)
                    body, consumed = _read_lines(f)
                    if not consumed:  # only a partial line: it waits for the next run
                        saves.append((lf, st, start, _head(f, start), lineno, 0, 0, None, fresh))
                        continue
                    got, got_rows, skipped, last_skip, lineno = parse_bodies(body, lineno, lf, replica.device_id, parser)
                bodies.extend(got)
                rows.extend(got_rows)
                new_offset = start + consumed
                saves.append((lf, st, new_offset, _head(f, new_offset), lineno, len(got), skipped, last_skip, fresh))
                res.entries += len(got)
                res.skipped += skipped
                res.bytes_read += consumed
                if new_offset < st.st_size:
                    more.append(lf)
        if bodies:
            replica.append_usage_rows(bodies, rows)
        for lf, st, offset, head, lineno, n, skipped, last_skip, fresh in saves:
            _store_cursor(conn, lf, st, offset, head, lineno, n, skipped, last_skip, reset=fresh)
    if progress is not None:
        progress(res.bytes_read)
    return res, more


def _head(f, offset: int) -> str:  # type: ignore[no-untyped-def]
    return _head_hash(f, min(offset, HEAD)) if offset else ""


def parse_lines(body: bytes, lineno: int, lf: LogFile, device_id: str, parser: Parser = parse_line
                ) -> tuple[list[UsageEntry], int, str | None, int]:
    """Complete lines -> (entries, skipped lines, last skip reason, line number after them)."""
    entries: list[UsageEntry] = []
    skipped = 0
    last_skip = None
    for line in body.split(b"\n")[:-1]:
        lineno += 1
        if USAGE_MARKER in line:
            try:
                e = parser(line, lf.project, lf.session_id)
            except MalformedLine as err:
                skipped += 1
                last_skip = f"line {lineno}: {err}"
                continue
            if e is None:
                continue
            if e.message_id is None:
                e = replace(e, line_key=_line_key(device_id, lf.path, lineno, line))
            entries.append(e)
        elif line and not _looks_like_json(line):
            skipped += 1
            last_skip = f"line {lineno}: not JSON"
    return entries, skipped, last_skip, lineno


def parse_bodies(body: bytes, lineno: int, lf: LogFile, device_id: str, parser: Parser = parse_line
                 ) -> tuple[list[bytes], list[Row], int, str | None, int]:
    """Complete lines -> (record bodies, their rows, skipped lines, last skip reason, line number
    after them): `record_bodies` of parse_lines' entries and the rest of its answer, without
    building UsageEntry objects for the Claude parser (claude_log.marked_record: the hot path of
    an ingest)."""
    if parser is not parse_line:
        entries, skipped, last_skip, lineno = parse_lines(body, lineno, lf, device_id, parser)
        bodies, rows = record_bodies(entries)
        return bodies, rows, skipped, last_skip, lineno
    from meshd.store.materialize import record_row

    bodies: list[bytes] = []
    rows: list[Row] = []
    append, append_row = bodies.append, rows.append
    dumps = orjson.dumps
    record = marked_record
    project, session_id = lf.project, lf.session_id
    skipped = 0
    last_skip = None
    # No split into lines: find the next marker, walk the newlines before it (lines without usage:
    # only "does it look like JSON", judged on its first and last byte), then parse its line.
    find = body.find
    end = body.rfind(b"\n") + 1  # complete lines only, as in parse_lines
    pos = 0
    while pos < end:
        m = find(USAGE_MARKER, pos, end)
        if m < 0:
            m = end
        while (nl := find(b"\n", pos, m)) >= 0:
            lineno += 1
            if nl != pos and (body[pos] != 123 or body[nl - 1] != 125):  # not "{...}": look closer
                if not _looks_like_json(body[pos:nl]):
                    skipped += 1
                    last_skip = f"line {lineno}: not JSON"
            pos = nl + 1
        if m == end:
            break
        nl = find(b"\n", m, end)
        line = body[pos:nl]
        lineno += 1
        pos = nl + 1
        try:
            d = record(line, project, session_id)
        except MalformedLine as err:
            skipped += 1
            last_skip = f"line {lineno}: {err}"
            continue
        if d is None:
            continue
        if "mid" not in d:
            d["lk"] = _line_key(device_id, lf.path, lineno, line)
        append(dumps(d))
        append_row(record_row(d))
    return bodies, rows, skipped, last_skip, lineno


@dataclass(slots=True)
class Parsed:
    """One chunk of a file parsed ahead of its write transaction, and the state it assumed."""

    cursor: tuple[object, ...] | None  # the cursor row it was planned from
    dev: int
    ino: int
    start: int
    consumed: int
    lineno_end: int
    bodies: list[bytes]  # usage records as the log stores them (UsageEntry.to_record)
    skipped: int
    last_skip: str | None
    rows: list[Row]  # the same records decoded (store/materialize.record_row), for the write path

    def matches(self, row: tuple[object, ...] | None, st: os.stat_result, start: int) -> bool:
        return (
            (None if row is None else tuple(row)) == self.cursor
            and (st.st_dev, st.st_ino) == (self.dev, self.ino)
            and start == self.start
            and st.st_size >= self.start + self.consumed
        )



def preparse(lf: LogFile, cursor: tuple[object, ...] | None, device_id: str, limit: int) -> Parsed | None:
    """Parse up to `limit` bytes of what is new in a file (runs in a worker process)."""
    try:
        with open(lf.path, "rb") as f:
            st = os.fstat(f.fileno())
            start, lineno, _fresh = _resume_point(f, None if cursor is None else Cursor(*cursor), st)  # type: ignore[arg-type]
            f.seek(start)
            # no more than the file holds: a read of `limit` bytes allocates all of them first
            data = f.read(min(limit, st.st_size - start)) if st.st_size > start else b""
    except OSError:
        return None
    end = data.rfind(b"\n")
    if end < 0:
        return None
    if end + 1 < len(data):
        data = data[: end + 1]
    bodies, rows, skipped, last_skip, lineno_end = parse_bodies(data, lineno, lf, device_id)
    return Parsed(cursor, st.st_dev, st.st_ino, start, end + 1, lineno_end, bodies, skipped, last_skip, rows)


def record_bodies(entries: list[UsageEntry]) -> tuple[list[bytes], list[Row]]:
    """Log record bodies of usage entries, and the same records decoded for the write path
    (store/materialize.record_row, taken by Replica.append_usage_rows)."""
    from meshd.store.materialize import record_row

    dumps = orjson.dumps
    bodies: list[bytes] = []
    rows: list[Row] = []
    for e in entries:
        d = e.to_record()
        bodies.append(dumps(d))
        rows.append(record_row(d))
    return bodies, rows


def _resume_point(f, cur: Cursor | None, st: os.stat_result) -> tuple[int, int, bool]:  # type: ignore[no-untyped-def]
    """(offset, line number, fresh) to continue from; fresh means read from the start."""
    if cur is None:
        return 0, 0, True
    if cur.dev != st.st_dev or cur.ino != st.st_ino or st.st_size < cur.offset:
        return 0, 0, True
    length = int(cur.head.split(":", 1)[0]) if cur.head else 0
    if length and _head_hash(f, length) != cur.head:
        return 0, 0, True
    return cur.offset, cur.lineno, False


def _read_lines(f) -> tuple[bytes, int]:  # type: ignore[no-untyped-def]
    """Complete lines from the file position: (bytes to parse, bytes consumed); (b"", 0) if none.

    Reads about CHUNK bytes; a single line longer than that is read whole, and one longer than
    MAX_LINE is consumed without being kept (it is then counted as a skipped line).
    """
    try:  # no more than the file holds: a read of CHUNK bytes allocates all of them first
        want = min(CHUNK, max(0, os.fstat(f.fileno()).st_size - f.tell()))
    except OSError:
        want = CHUNK
    data = f.read(want)
    end = data.rfind(b"\n")
    if end >= 0:
        return data[: end + 1], end + 1
    if len(data) < CHUNK:
        return b"", 0
    parts = [data]
    total = len(data)
    while True:
        more = f.read(CHUNK)
        if not more:
            return b"", 0
        nl = more.find(b"\n")
        if nl >= 0:
            consumed = total + nl + 1
            if consumed > MAX_LINE:
                return b"<oversized line>\n", consumed
            parts.append(more[: nl + 1])
            return b"".join(parts), consumed
        total += len(more)
        if total <= MAX_LINE:
            parts.append(more)


def _looks_like_json(line: bytes) -> bool:
    """Cheap check for lines we do not parse (they carry no usage): an object, or blank."""
    if line[:1] == b"{" and line[-1:] in (b"}", b"\r"):
        return True
    s = line.strip()
    return not s or (s[:1] == b"{" and s[-1:] == b"}")


def _save_cursor(
    conn: sqlite3.Connection,
    lf: LogFile,
    st: os.stat_result,
    offset: int,
    f,  # type: ignore[no-untyped-def]
    lineno: int,
    entries: int,
    skipped: int,
    last_skip: str | None,
    *,
    reset: bool,
) -> None:
    _store_cursor(conn, lf, st, offset, _head(f, offset), lineno, entries, skipped, last_skip, reset=reset)


def _store_cursor(
    conn: sqlite3.Connection,
    lf: LogFile,
    st: os.stat_result,
    offset: int,
    head: str,
    lineno: int,
    entries: int,
    skipped: int,
    last_skip: str | None,
    *,
    reset: bool,
) -> None:
    conn.execute(
        "INSERT INTO files(path, source, dev, ino, size, mtime_ns, offset, head, lineno, entries, skipped,"
        " last_skip) VALUES(?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(path) DO UPDATE SET"
        " source=excluded.source, dev=excluded.dev, ino=excluded.ino, size=excluded.size,"
        " mtime_ns=excluded.mtime_ns, offset=excluded.offset, head=excluded.head, lineno=excluded.lineno,"
        " entries=CASE WHEN ? THEN excluded.entries ELSE files.entries + excluded.entries END,"
        " skipped=CASE WHEN ? THEN excluded.skipped ELSE files.skipped + excluded.skipped END,"
        " last_skip=COALESCE(excluded.last_skip, CASE WHEN ? THEN NULL ELSE files.last_skip END),"
        " generation=files.generation + ?",
        (lf.path, lf.source, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, offset, head, lineno,
         entries, skipped, last_skip, reset, reset, reset, 1 if reset else 0),
    )
