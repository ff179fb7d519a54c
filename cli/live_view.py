"""The live monitor's screen: a pure function of (snapshot, terminal size, colour capability, now).

`render()` returns the frame as lines that each fit `width` display columns (SGR colour codes
only, no cursor movement), at most `height` of them. Layouts:

- compact (narrow or short terminals, or `--compact`): the seed's Local/Remote/Total lines and
  one line per fact;
- normal (80x24 and up): sections stacked, one bar per device and per official window;
- wide (120+ columns): the block on the left, limits / today / plan / mesh on the right.

Text that comes from other machines (device names, errors) is stripped of control characters
before it reaches the terminal.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Sequence
from datetime import datetime

from meshd.core import live as L

# Segments: (text, style); a line is a list of segments.
Seg = tuple[str, str]
Line = list[Seg]

COLOR_LEVELS = ("none", "16", "256", "truecolor")

_SGR = {
    "16": {"ok": "32", "warn": "33", "high": "31", "accent": "36", "bold": "1", "dim": "2", "self": "1;36",
           "title": "1", "head": "1;34", "off": "2;31"},
    "256": {"ok": "38;5;71", "warn": "38;5;178", "high": "38;5;167", "accent": "38;5;74", "bold": "1", "dim": "2",
            "self": "1;38;5;74", "title": "1", "head": "1;38;5;110", "off": "38;5;167"},
    "truecolor": {"ok": "38;2;95;175;95", "warn": "38;2;215;175;0", "high": "38;2;215;95;95",
                  "accent": "38;2;95;175;215", "bold": "1", "dim": "2", "self": "1;38;2;95;175;215", "title": "1",
                  "head": "1;38;2;135;175;215", "off": "38;2;215;95;95"},
}

WIDE_MIN = 120
NORMAL_MIN_W = 60
NORMAL_MIN_H = 16


# --- text measurement -------------------------------------------------------------------------


def clean(s: object, limit: int = 200) -> str:
    """Printable text only: control and format characters become '?' (names come from other machines)."""
    out = []
    for ch in str(s)[:limit]:
        cat = unicodedata.category(ch)
        out.append("?" if cat in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp") else ch)
    return "".join(out)


def cwidth(ch: str) -> int:
    if unicodedata.combining(ch):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def swidth(s: str) -> int:
    return sum(cwidth(c) for c in s)


def line_width(line: Line) -> int:
    return sum(swidth(t) for t, _ in line)


def fit(line: Line, width: int) -> Line:
    """Cut a line to `width` display columns (an ellipsis marks the cut)."""
    if width <= 0:
        return []
    if line_width(line) <= width:
        return line
    out: Line = []
    room = width - 1
    for text, style in line:
        take = []
        for ch in text:
            w = cwidth(ch)
            if w > room:
                room = -1
                break
            take.append(ch)
            room -= w
        if take:
            out.append(("".join(take), style))
        if room < 0:
            break
    out.append(("…", "dim"))
    return out


def pad(line: Line, width: int) -> Line:
    line = fit(line, width)
    w = line_width(line)
    return line + [(" " * (width - w), "")] if w < width else line


def to_text(line: Line, color: str) -> str:
    codes = _SGR.get(color)
    if codes is None:
        return "".join(t for t, _ in line).rstrip()
    parts = []
    for text, style in line:
        sgr = codes.get(style)
        parts.append(f"\x1b[{sgr}m{text}\x1b[0m" if sgr and text.strip() else text)
    return "".join(parts).rstrip()


# --- number formatting ------------------------------------------------------------------------


def money(x: float | None) -> str:
    if x is None or not math.isfinite(x):
        return "-"
    a = abs(x)
    if a < 10_000:
        return f"${x:,.2f}"
    if a < 1_000_000:
        return f"${x:,.0f}"
    for div, suf in ((1e12, "T"), (1e9, "B"), (1e6, "M")):
        if a >= div:
            return f"${x / div:,.2f}{suf}"
    return f"${x:,.0f}"  # pragma: no cover


def tokens(n: int | float | None) -> str:
    """Token counts in at most ~7 characters: 987 / 12.3K / 4.56M / 7.89B / 1.2T."""
    if n is None or (isinstance(n, float) and not math.isfinite(n)):
        return "-"
    n = int(n)
    a = abs(n)
    if a < 10_000:
        return f"{n:,}"
    if a < 1_000_000:
        return f"{n / 1e3:.1f}K"
    if a < 1_000_000_000:
        return f"{n / 1e6:.2f}M"
    if a < 1_000_000_000_000:
        return f"{n / 1e9:.2f}B"
    if a < 10**18:
        return f"{n / 1e12:.1f}T"
    return f"{n:.1e}"


def pct(x: float) -> str:
    if not math.isfinite(x):
        return "?%"
    return f"{x:.0f}%" if abs(x) < 10_000 else ">9999%"


def clock(ms: int, tz) -> str:  # type: ignore[no-untyped-def]
    return datetime.fromtimestamp(ms / 1000, tz).strftime("%H:%M")


def day_clock(ms: int, tz, now_ms: int) -> str:  # type: ignore[no-untyped-def]
    d = datetime.fromtimestamp(ms / 1000, tz)
    if abs(ms - now_ms) < 20 * 3_600_000 and d.date() == datetime.fromtimestamp(now_ms / 1000, tz).date():
        return d.strftime("%H:%M")
    return d.strftime("%a %H:%M")


def bar(fraction: float, width: int, style: str, unicode: bool = True) -> Line:
    """A horizontal bar `width` cells wide; eighth-blocks make it smooth."""
    width = max(1, width)
    f = 0.0 if not math.isfinite(fraction) else min(1.0, max(0.0, fraction))
    if not unicode:
        n = int(f * width + 0.5)
        return [("#" * n, style), ("-" * (width - n), "dim")]
    eighths = int(f * width * 8 + 0.5)
    full, part = divmod(eighths, 8)
    if full >= width:
        full, part = width, 0
    s = "█" * full + ("▏▎▍▌▋▊▉"[part - 1] if part else "")
    return [(s, style), ("░" * (width - swidth(s)), "dim")]


def mark(line: Line, pos: int, ch: str, style: str) -> Line:
    """Put `ch` at display cell `pos` of a line of single-width cells (the pace marker on a bar)."""
    out: Line = []
    at = 0
    for text, st in line:
        n = len(text)
        if at <= pos < at + n:
            k = pos - at
            out += [(text[:k], st), (ch, style), (text[k + 1:], st)]
        else:
            out.append((text, st))
        at += n
    return [x for x in out if x[0]]


# --- sections ---------------------------------------------------------------------------------


class _Ctx:
    def __init__(self, snap: L.Snapshot, now: int, unicode: bool) -> None:
        self.s = snap
        self.now = now
        self.uni = unicode
        self.block = snap.block if L.is_live(snap.block, now) else None


def _head(title: str, width: int, ctx: _Ctx) -> Line:
    rule = "─" if ctx.uni else "-"
    t = f"{rule}{rule} {title} "
    return [(t, "head"), (rule * max(0, width - swidth(t)), "dim")]


def _block_lines(ctx: _Ctx, width: int, max_devices: int) -> list[Line]:
    b = ctx.block
    s = ctx.s
    if b is None:
        return [[(" No active block", "dim"), ("  (it starts with the next request on any machine)", "dim")]]
    left = L.minutes_left(b, ctx.now)
    el = L.elapsed_fraction(b, ctx.now)
    span = f"{clock(b.start_ms, s.tz)}–{clock(b.end_ms, s.tz)}" if ctx.uni else \
        f"{clock(b.start_ms, s.tz)}-{clock(b.end_ms, s.tz)}"
    head: Line = [(" Block   ", "bold"), (span, ""), (f"  {L.hm(left)} left  ", "accent")]
    bw = max(6, width - line_width(head) - 14)
    lines = [head + bar(el, bw, "accent", ctx.uni) + [(f" {pct(el * 100)} elapsed", "dim")]]
    lines.append([(" Cost    ", "bold"), (money(b.cost), "bold"), ("   Tokens ", "dim"), (tokens(b.tokens), ""),
                  ("   Entries ", "dim"), (f"{b.entries:,}", "")]
                 + ([("   overlap", "warn")] if b.overlap else []))
    proj = L.projection(b, ctx.now)
    if b.cost_per_hour is None or proj is None:
        lines.append([(" Burn    ", "bold"), ("not enough activity yet for a rate", "dim")])
    else:
        lines.append([(" Burn    ", "bold"), (f"{money(b.cost_per_hour)}/h", ""),
                      (f"  {tokens(b.tokens_per_minute)} tok/min", "dim"),
                      ("   Projected ", "dim"), (money(proj[0]), "bold"), (f"  {tokens(proj[1])} tok", "dim")])
    devs = list(b.devices)
    if devs and max_devices > 0:
        shown = devs if len(devs) <= max_devices else devs[: max_devices - 1]
        nw = min(18, max(8, *(swidth(clean(d.name, 40)) + (1 if d.is_self else 0) for d in shown)))
        tail = 24
        bw = max(5, width - nw - tail - 4)
        for d in shown:
            name = clean(d.name, 40) + ("*" if d.is_self else "")
            name_line = pad([(name, "self" if d.is_self else "")], nw)
            style = "self" if d.is_self else "ok"
            lines.append([(" ", "")] + name_line + [(" ", "")] + bar(d.share, bw, style, ctx.uni)
                         + [(f" {pct(d.share * 100):>4}", ""), (f" {money(d.cost):>9}", ""),
                            (f" {tokens(d.tokens):>8}", "dim")])
        if len(shown) < len(devs):
            rest = devs[len(shown):]
            lines.append([(f" +{len(rest)} more devices: {money(sum(d.cost for d in rest))}", "dim")])
    return lines


def _split_lines(ctx: _Ctx, compact: bool = False) -> list[Line]:
    sp = ctx.s.split if ctx.block is not None else None
    if sp is None:
        sp = L.Split(L.Totals(), L.Totals(), 0)
    hosts = f" ({sp.remote_hosts} host{'s' if sp.remote_hosts != 1 else ''})"
    lab = ("Local:", "Remote:", "Total:") if compact else (" Local ", " Remote", " Total ")
    rows = [(lab[0], sp.local, ""), (lab[1], sp.remote, hosts), (lab[2], sp.total, "")]
    w = max(len(tokens(t.tokens)) for _, t, _ in rows)
    out = []
    for label, t, extra in rows:
        out.append([(f"{label:<8}", "bold"), (f"{tokens(t.tokens):>{w}}", ""), (f"  {money(t.cost):>10}", ""),
                    (extra, "dim")])
    return out


def _limit_lines(ctx: _Ctx, width: int, label_w: int = 8) -> list[Line]:
    lim = ctx.s.limits
    if lim is None:
        return [[(" Official 5h/7d: no reading yet", "dim"), (" (recorded by `meshctl statusline`)", "dim")]]
    readings = L.freshest(lim)
    if not readings:
        return [[(" Official 5h/7d: no reading yet from any machine", "dim"),
                 (" (set up `meshctl statusline`)", "dim")]]
    names = {"5h": "5-hour", "7d": "7-day"}
    rows = []
    for r in readings:
        expired = L.reading_expired(r, ctx.now)
        info = f" {L.ago(ctx.now - r.recorded_ms)} ago from {clean(r.device, 24)}"
        if r.resets_at_ms is not None:
            sep = "·" if ctx.uni else ";"
            info = f" {'reset' if expired else 'resets'} {day_clock(r.resets_at_ms, ctx.s.tz, ctx.now)} {sep}" + info
        rows.append((r, expired, info))
    bw = max(6, min(40, width - label_w - 7 - max(swidth(i) for _r, _e, i in rows)))
    out = []
    for r, expired, info in rows:
        label = names.get(r.window, clean(r.window, 8))
        lvl = "dim" if expired else L.limit_level(r.used_pct)
        b = bar(r.used_pct / 100, bw, lvl, ctx.uni)
        el = L.window_elapsed(r, ctx.now)
        if el is not None:  # where an even pace would be now
            b = mark(b, min(bw - 1, int(el * bw)), "┃" if ctx.uni else "|", "bold")
        out.append([(f" {label:<{label_w - 1}}", "bold")] + b + [(f" {pct(r.used_pct):>5}", lvl), (info, "dim")])
    return out


def _today_lines(ctx: _Ctx) -> list[Line]:
    s = ctx.s
    t = s.today_total
    out: list[Line] = [[(" Today   ", "bold"), (money(t.cost), "bold"), (f"  {tokens(t.tokens)} tok", "dim"),
                        ("  local ", "dim"), (money(s.today_local.cost), ""), ("  remote ", "dim"),
                        (money(s.today_remote.cost), "")]]
    if not s.plan_known:
        out.append([(" Plan    ", "bold"), ("no plan setting yet", "dim")])
    elif s.plan is None:
        out.append([(" Plan    ", "bold"), ("not set", "dim"), ("  (meshctl plan set pro|max5x|max20x|api)", "dim")])
    else:
        p = s.plan
        line: Line = [(" Plan    ", "bold"), (clean(p.name, 20), "")]
        if p.price_usd is not None:
            line.append((f" ${p.price_usd:,.0f}/mo", ""))
        if s.month_cost is not None:
            line += [("  month ", "dim"), (money(s.month_cost), "bold"), (" API-equivalent", "dim")]
            m = L.plan_multiple(p, s.month_cost)
            if m is not None:
                x = "×" if ctx.uni else "x"
                line.append((f" ({m:.1f}{x} the plan)" if m >= 1 else f" ({m * 100:.0f}% of the plan)",
                             "ok" if m >= 1 else "dim"))
        out.append(line)
    return out


def _peer_cells(ctx: _Ctx) -> list[Line]:
    s = ctx.s
    if not s.daemon:
        return [[("No daemon: reading this replica only (start `meshd run` to sync)", "dim")]]
    if not s.peers:
        return [[("No peers yet (pair with `meshctl invite` / `join`)", "dim")]]
    cells = []
    for p in s.peers:
        st = clean(p.state, 10)
        style = "ok" if st == "online" else "off" if st in ("offline", "backoff") else "dim"
        dot = "●" if ctx.uni else "*"
        when = f"synced {L.ago(ctx.now - p.last_sync_ms)} ago" if p.last_sync_ms else "never synced"
        cells.append([(f"{dot} ", style), (clean(p.name, 24), "bold"), (f" {st}", style), (f" {when}", "dim")])
    return cells


def _flow(cells: list[Line], width: int, max_rows: int) -> list[Line]:
    """Place cells left to right, three spaces apart, wrapping; the last row counts what did not fit."""
    if max_rows <= 0 or not cells:
        return []

    def join(row: list[Line]) -> Line:
        out: Line = [(" ", "")]
        for k, c in enumerate(row):
            out += ([("   ", "")] if k else []) + c
        return out

    rows: list[list[Line]] = [[]]
    for i, c in enumerate(cells):
        if rows[-1] and line_width(join(rows[-1] + [c])) > width:
            if len(rows) == max_rows:  # no room left: drop cells from this row until "+N more" fits
                last = rows[-1]
                while True:
                    more: Line = [(f"   +{len(cells) - i} more", "dim")]
                    if len(last) <= 1 or line_width(join(last)) + line_width(more) <= width:
                        break
                    last.pop()
                    i -= 1
                head = [fit(join(r), width) for r in rows[:-1]]
                return head + [fit(join(last), max(1, width - line_width(more))) + more]
            rows.append([])
        rows[-1].append(c)
    return [fit(join(r), width) for r in rows]


def _title(ctx: _Ctx, width: int) -> Line:
    s = ctx.s
    feed = {"watch": "live", "daemon": "via daemon"}.get(s.feed, "polling")
    dot = "·" if ctx.uni else "-"
    left: Line = [(" meshd live ", "title"), (f"{dot} ", "dim"), (clean(s.device_name, 24), "self"),
                  (f" {dot} {s.devices} device{'s' if s.devices != 1 else ''}", "dim")]
    right: Line = [(f"{clock(ctx.now, s.tz)}:{datetime.fromtimestamp(ctx.now / 1000, s.tz):%S} ", ""),
                   (f"{feed} {dot} q quits ", "dim")]
    gap = width - line_width(left) - line_width(right)
    if gap < 1:
        return fit(left, width)
    return left + [(" " * gap, "")] + right


# --- layouts ----------------------------------------------------------------------------------


def layout_for(width: int, height: int, compact: bool = False) -> str:
    if compact or width < NORMAL_MIN_W or height < NORMAL_MIN_H:
        return "compact"
    return "wide" if width >= WIDE_MIN else "normal"


def _compact(ctx: _Ctx, width: int, height: int) -> list[Line]:
    s = ctx.s
    b = ctx.block
    out: list[Line] = []
    if b is None:
        out.append([("Block ", "bold"), ("none active", "dim")])
    else:
        left = L.hm(L.minutes_left(b, ctx.now))
        line: Line = [("Block ", "bold"), (money(b.cost), "bold"), (f" {left} left", "accent")]
        proj = L.projection(b, ctx.now)
        if b.cost_per_hour is not None and proj is not None:
            arrow = "→" if ctx.uni else "->"
            line += [(f" {money(b.cost_per_hour)}/h {arrow} {money(proj[0])}", "dim")]
        out.append(line)
    out += _split_lines(ctx, compact=True)
    main = [r for r in L.freshest(s.limits or ()) if r.window in ("5h", "7d")]
    if main:
        for r in main:
            expired = L.reading_expired(r, ctx.now)
            lvl = "dim" if expired else L.limit_level(r.used_pct)
            info = f" {L.ago(ctx.now - r.recorded_ms)} ago {clean(r.device, 16)}"
            bw = max(4, min(20, width - 9 - swidth(info)))
            out.append([(f"{clean(r.window, 3):<3}", "bold")] + bar(r.used_pct / 100, bw, lvl, ctx.uni)
                       + [(f" {pct(r.used_pct)}", lvl), (info, "dim")])
    else:
        out.append([("5h/7d ", "bold"), ("no reading yet", "dim")])
    today: Line = [("Today ", "bold"), (money(s.today_total.cost), "bold")]
    m = L.plan_multiple(s.plan, s.month_cost) if s.plan_known else None
    if s.plan is not None:
        today.append((f" {'·' if ctx.uni else '-'} plan {clean(s.plan.name, 10)}", "dim"))
        if m is not None:
            today.append((f" {m:.1f}x", "dim"))
    out.append(today)
    if not s.daemon:
        out.append([("Mesh ", "bold"), ("no daemon (polling)", "dim")])
    else:
        on, off = L.peers_summary(s.peers)
        last = max((p.last_sync_ms or 0 for p in s.peers or ()), default=0)
        line = [("Peers ", "bold"), (f"{on} online", "ok" if on else "dim"),
                (f", {off} offline", "off" if off else "dim")]
        if last:
            line.append((f" {'·' if ctx.uni else '-'} sync {L.ago(ctx.now - last)} ago", "dim"))
        out.append(line)
    return out[:height]


def _left_column(ctx: _Ctx, width: int, rows: int) -> list[Line]:
    fixed = 1 + 3 + 3  # header, block lines, local/remote/total
    n_dev = len(ctx.block.devices) if ctx.block else 0
    max_dev = max(0, min(n_dev, rows - fixed))
    if ctx.block is not None and n_dev > max_dev and max_dev == 1:
        max_dev = 0
    out = [_head("Active block (all machines)", width, ctx)]
    out += _block_lines(ctx, width, max_dev)
    out += _split_lines(ctx)
    return out


def _right_column(ctx: _Ctx, width: int, rows: int) -> list[Line]:
    out = [_head("Official limits (freshest on any machine)", width, ctx)]
    out += _limit_lines(ctx, width)
    day = datetime.fromtimestamp(ctx.now / 1000, ctx.s.tz).date().isoformat()
    out.append(_head(f"Today {day}", width, ctx))
    out += _today_lines(ctx)
    out.append(_head("Mesh", width, ctx))
    out += _flow(_peer_cells(ctx), width, max(1, rows - len(out)))
    return out


def _normal(ctx: _Ctx, width: int, height: int) -> list[Line]:
    title = _title(ctx, width)
    n_lim = len(L.freshest(ctx.s.limits)) if ctx.s.limits else 1
    right_rows = 1 + n_lim + 1 + 2 + 1 + 1  # sections of the lower part with one mesh line
    avail = height - 1 - right_rows
    left = _left_column(ctx, width, avail)
    rest = height - 1 - len(left)
    right = _right_column(ctx, width, max(1, rest))
    return [title] + left + right


def _wide(ctx: _Ctx, width: int, height: int) -> list[Line]:
    title = _title(ctx, width)
    lw = (width - 3) // 2
    rw = width - 3 - lw
    left = _left_column(ctx, lw, height - 1)
    right = _right_column(ctx, rw, height - 1)
    out = [title]
    for i in range(max(len(left), len(right))):
        a = pad(left[i], lw) if i < len(left) else [(" " * lw, "")]
        b = right[i] if i < len(right) else []
        out.append(a + [("   ", "")] + b)
    return out


def render(snap: L.Snapshot, width: int, height: int, color: str = "none", now_ms: int | None = None, *,
           compact: bool = False, unicode: bool = True) -> list[str]:
    """The frame: at most `height` lines, each at most `width` columns wide (colour codes aside)."""
    width = max(1, min(int(width), 1000))
    height = max(1, min(int(height), 500))
    now = snap.taken_ms if now_ms is None else now_ms
    ctx = _Ctx(snap, now, unicode)
    kind = layout_for(width, height, compact)
    lines = {"compact": _compact, "normal": _normal, "wide": _wide}[kind](ctx, width, height)
    if snap.notes:  # a problem reading the data (e.g. a log folder that vanished): the last row says so
        note: Line = [("! " + clean(snap.notes[0], 300), "high")]
        lines = lines[: height - 1] + [note] if len(lines) >= height else lines + [note]
    return [to_text(fit(x, width), color) for x in lines[:height]]


def visible(s: str) -> str:
    """A rendered line without its colour codes (tests and width checks)."""
    import re

    return re.sub(r"\x1b\[[0-9;]*m", "", s)


def frame_fits(lines: Sequence[str], width: int, height: int) -> bool:
    return len(lines) <= height and all(swidth(visible(x)) <= width for x in lines)
