"""`meshctl export`: the merged usage, one row per usage entry, as JSON lines or CSV (streamed).

Columns (stable; documented in docs/export.md):

    timestamp                  ISO-8601 UTC with milliseconds ("2026-01-09T10:00:00.000Z")
    date                       local date in --timezone (the day `meshctl daily` counts it on)
    device, device_id          the device's display name and its 32-hex id
    provider                   claude | codex
    model, project, session    as in the reports (project: the folder name under projects/)
    input_tokens, output_tokens, cache_creation_5m_tokens, cache_creation_1h_tokens,
    cache_creation_tokens (5m + 1h), cache_read_tokens, reasoning_tokens (codex; inside output),
    total_tokens               input + output + cache creation + cache read (ccusage's totalTokens)
    cost_usd                   in the --mode cost mode

Rows are the winning copies under daily's dedup rule by default (totals equal `meshctl daily
--json`), or the exact-key rule with `--dedup exact` (totals equal monthly/weekly/session).

CSV quoting: RFC 4180 (fields with commas, quotes or line breaks are quoted, quotes doubled, CRLF
line ends). CSV is meant for spreadsheets, so text cells that begin with `=`, `+`, `-`, `@`, tab or
carriage return get a leading apostrophe and no spreadsheet evaluates them as a formula. Claude
Code's project folder names start with `-`, so they show as `'-home-...`. `--csv-raw` turns the
guard off; JSON lines are never altered.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from typing import IO, Any

import click

COLUMNS = (
    "timestamp", "date", "device", "device_id", "provider", "model", "project", "session",
    "input_tokens", "output_tokens", "cache_creation_5m_tokens", "cache_creation_1h_tokens",
    "cache_creation_tokens", "cache_read_tokens", "reasoning_tokens", "total_tokens", "cost_usd",
)
_TEXT = frozenset({"device", "model", "project", "session"})  # free text from logs and peers
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def guard_cell(value: str) -> str:
    """A text cell made inert for spreadsheets (OWASP CSV-injection advice)."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def _sql_bounds(since: date | None, until: date | None) -> tuple[int | None, int | None]:
    """A UTC range that surely contains the local days since..until in any zone (±2 days)."""
    def ms(d: date) -> int:
        return int(datetime(d.year, d.month, d.day, tzinfo=timezone.utc).timestamp() * 1000)

    lo = hi = None
    if since is not None and since > date.min + timedelta(days=2):
        lo = ms(since - timedelta(days=2))
    if until is not None and until < date.max - timedelta(days=3):
        hi = ms(until + timedelta(days=3))
    return lo, hi


def records(conn: Any, *, mode: str, flt: Any, tz: Any, since: date | None, until: date | None,
            rule: str) -> Iterator[tuple[Any, ...]]:
    """Export rows as tuples in COLUMNS order, streamed from the replica."""
    from meshd.core.periods import DayKeys, date_str, iso_ms
    from meshd.store.export import usage_entries
    from meshd.store.usage import device_names

    names = device_names(conn)
    day = DayKeys(tz).day
    lo, hi = date_str(since), date_str(until)
    for r in usage_entries(conn, mode, flt, rule=rule):
        d = day(r.ts)
        if (lo is not None and d < lo) or (hi is not None and d > hi):
            continue
        cc = r.cache_write_5m_tokens + r.cache_write_1h_tokens
        yield (
            iso_ms(r.ts), d, names.get(r.origin, r.origin[:8]), r.origin, r.provider, r.model, r.project, r.session,
            r.input_tokens, r.output_tokens, r.cache_write_5m_tokens, r.cache_write_1h_tokens, cc,
            r.cache_read_tokens, r.reasoning_tokens, r.input_tokens + r.output_tokens + cc + r.cache_read_tokens,
            float(r.cost or 0.0),
        )


def write_jsonl(rows: Iterator[tuple[Any, ...]], out: IO[bytes]) -> int:
    import orjson

    n = 0
    dumps, keys, opt = orjson.dumps, COLUMNS, orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE
    write = out.write
    for row in rows:
        write(dumps(dict(zip(keys, row)), option=opt))
        n += 1
    return n


def write_csv(rows: Iterator[tuple[Any, ...]], out: IO[bytes], *, raw: bool = False) -> int:
    import csv
    import io

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    w.writerow(COLUMNS)
    text_idx = [i for i, c in enumerate(COLUMNS) if c in _TEXT]
    cost_idx = COLUMNS.index("cost_usd")
    n = 0
    for row in rows:
        cells = list(row)
        if not raw:
            for i in text_idx:
                cells[i] = guard_cell(cells[i])
        cells[cost_idx] = repr(cells[cost_idx])  # the shortest form that reads back exactly
        w.writerow(cells)
        n += 1
        if buf.tell() > 1 << 16:  # stream in 64 KiB pieces
            out.write(buf.getvalue().encode("utf-8", "surrogatepass"))
            buf.seek(0)
            buf.truncate()
    out.write(buf.getvalue().encode("utf-8", "surrogatepass"))
    return n


@click.command("export", help="The merged usage of all devices, one row per usage entry, as JSON lines or CSV.")
@click.option("--format", "-f", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True)
@click.option("--output", metavar="FILE", help="Write to FILE (replaced when complete) instead of stdout.")
@click.option("--since", "-s", metavar="DATE", help="First day to include (YYYYMMDD or YYYY-MM-DD).")
@click.option("--until", "-u", metavar="DATE", help="Last day to include (YYYYMMDD or YYYY-MM-DD).")
@click.option("--timezone", "-z", "tz", metavar="TZ", help="IANA zone for --since/--until and `date` (default: system).")
@click.option("--device", "devices", multiple=True, metavar="NAME", help="Only this device (repeatable).")
@click.option("--provider", type=click.Choice(["claude", "codex", "all"]), default="all", show_default=True)
@click.option("--project", "-p", metavar="NAME", help="Only this project (folder name).")
@click.option("--mode", "-m", type=click.Choice(["auto", "calculate", "display"]), default=None,
              help="Cost mode (default: auto, or cost_mode in config).")
@click.option("--dedup", type=click.Choice(["daily", "exact"]), default="daily", show_default=True,
              help="daily: the rows `daily` counts; exact: the rows monthly/weekly/session count.")
@click.option("--csv-raw", is_flag=True, help="CSV: no apostrophe before cells starting with = + - @.")
@click.pass_context
def export(ctx: click.Context, fmt: str, output: str | None, since: str | None, until: str | None,
           tz: str | None, devices: tuple[str, ...], provider: str, project: str | None, mode: str | None,
           dedup: str, csv_raw: bool) -> None:
    from meshd import query
    from meshd.store.usage import RowFilter

    from meshctl.common import get_config, open_and_ingest

    if output is not None and (not output or "\x00" in output):
        from meshd.errors import ConfigError

        raise ConfigError("--output needs a file name")
    config = get_config(ctx)
    # The reports' option rules (meshd/query.py), so export accepts exactly what they accept.
    q = query.report_query("daily", tz_default=config.timezone, mode_default=config.cost_mode, cli=True,
                           since=since, until=until, timezone=tz, mode=mode, devices=devices,
                           provider=provider, project=project)
    _config, replica = open_and_ingest(ctx)
    lo, hi = _sql_bounds(q.since, q.until)
    flt = RowFilter(provider=q.provider, origins=query.origins_for(replica.conn, q.devices), since_ms=lo,
                    until_ms=hi, project=q.project)
    rows = records(replica.conn, mode=q.mode, flt=flt, tz=q.tz, since=q.since, until=q.until, rule=dedup)
    if output is None or output == "-":
        out = sys.stdout.buffer
        _write(fmt, rows, out, csv_raw)
        out.flush()
        return
    _write_file(output, fmt, rows, csv_raw)


def _write(fmt: str, rows: Iterator[tuple[Any, ...]], out: IO[bytes], raw: bool) -> int:
    return write_csv(rows, out, raw=raw) if fmt == "csv" else write_jsonl(rows, out)


def _write_file(output: str, fmt: str, rows: Iterator[tuple[Any, ...]], raw: bool) -> None:
    """Write next to FILE, then rename over it: a failed export never leaves a half file."""
    from pathlib import Path

    from meshd.errors import ConfigError

    path = Path(os.path.expanduser(output)).absolute()
    if path.is_dir():
        raise ConfigError(f"--output {output[:200]!r} is a directory")
    tmp = path.with_name(f".{path.name[:200]}.{os.getpid()}.tmp")
    try:
        f = open(tmp, "wb", buffering=1 << 20)
    except OSError as e:
        raise ConfigError(f"cannot write {path}: {e.strerror}") from None
    try:
        with f:
            _write(fmt, rows, f, raw)
        os.replace(tmp, path)
    except OSError as e:
        raise ConfigError(f"cannot write {path}: {e.strerror}") from None
    finally:
        if tmp.exists():
            tmp.unlink()
