"""Plain-text tables that fit the terminal (80 columns by default), JSON output, click.echo's twin.

No click and no orjson here: the report commands' fast path (cli/entry.py) prints through this."""

from __future__ import annotations

import os
import re
import shutil
import sys
from collections.abc import Sequence


def emit_json(data: object) -> None:
    """Pretty JSON on stdout, like ccusage's --json: orjson's bytes (OPT_INDENT_2 | OPT_SORT_KEYS).

    Written by meshd.core.jsontext unless orjson is loaded already or the report is large:
    importing orjson costs more than writing a report of a few hundred rows in Python. Anything
    jsontext does not take (a type only orjson knows, a lone surrogate) goes to orjson, as before."""
    text = None
    if "orjson" not in sys.modules and _items(data) <= ORJSON_ITEMS:
        from meshd.core.jsontext import dumps

        try:
            text = dumps(data).encode() + b"\n"
        except (TypeError, UnicodeEncodeError):
            text = None
    if text is None:
        import orjson

        text = orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
    sys.stdout.buffer.write(text)
    sys.stdout.flush()


ORJSON_ITEMS = 1000  # rows in a report from which loading orjson pays off (e.g. `session` on a long history)


def _items(data: object) -> int:
    """Rows in a report: the lengths of its top-level lists and dicts."""
    if not isinstance(data, dict):
        return 0
    return sum(len(v) for v in data.values() if isinstance(v, (list, dict)))


_ANSI = re.compile(r"\033\[[;?0-9]*[a-zA-Z]")  # what click.echo strips when the stream is no terminal


def echo(text: str, *, err: bool = False) -> None:
    """click.echo(text[, err=True]) for a str: a newline, ANSI codes stripped unless a terminal, flushed."""
    out = sys.stderr if err else sys.stdout
    if out is None:
        return
    text += "\n"
    try:
        tty = out.isatty()
    except (OSError, ValueError):
        tty = False
    if not tty:
        text = _ANSI.sub("", text)
    out.write(text)
    out.flush()


def term_width() -> int:
    if os.environ.get("COLUMNS", "").isdigit():
        return int(os.environ["COLUMNS"])
    return shutil.get_terminal_size((80, 24)).columns if sys.stdout.isatty() else 80


def fmt_int(n: int) -> str:
    return f"{n:,}"


def fmt_tokens(n: int) -> str:
    """Compact token counts: 1,234 / 12.3K / 4.56M / 7.89B."""
    if n < 100_000:
        return f"{n:,}"
    if n < 10_000_000:
        return f"{n / 1e3:,.1f}K"
    if n < 10_000_000_000:
        return f"{n / 1e6:,.2f}M"
    return f"{n / 1e9:,.2f}B"


def fmt_cost(x: float) -> str:
    return f"${x:,.2f}"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], *, right: set[int] | None = None,
          width: int | None = None) -> str:
    """Render a table; columns are dropped from the right end of the widest ones until it fits."""
    width = width or term_width()
    right = right if right is not None else set(range(1, len(headers)))
    cols = list(range(len(headers)))
    body = [r for r in rows if r and r[0] != "\x00"]
    widths = [max([len(headers[c])] + [len(r[c]) for r in body]) for c in cols]

    def total(cs: list[int]) -> int:
        return sum(widths[c] for c in cs) + 2 * (len(cs) - 1)

    # Drop the least important columns (the ones listed last, except the first two) until it fits.
    while total(cols) > width and len(cols) > 2:
        cols.pop(-2 if len(cols) > 2 else -1)
    out = []

    def line(cells: Sequence[str]) -> str:
        parts = []
        for c in cols:
            v = cells[c]
            parts.append(v.rjust(widths[c]) if c in right else v.ljust(widths[c]))
        return "  ".join(parts).rstrip()

    out.append(line(headers))
    out.append("  ".join("-" * widths[c] for c in cols))
    for r in rows:
        if r and r[0] == "\x00":  # separator row
            out.append("  ".join("-" * widths[c] for c in cols))
            continue
        out.append(line(r))
    return "\n".join(out)
