"""The report commands' options, declared once, and a click-free parser for plain command lines.

`reports_cmd.py` builds the click options of daily, weekly, monthly, session, projects and blocks
from `OPTIONS`; `parse` reads the same command lines without loading click (a sixth of a warm
report's run time), for `meshctl.entry`. It accepts only plain, valid ones: `[--home DIR] CMD`
followed by options spelled out one per argument (`--json`, `-j`, `--since X`, `-s X`,
`--since=X`); anything else (help, unknown or clustered options, bad choices, extra arguments,
`--live`) returns None and goes to click, so errors and help stay click's. Values are what click
would hand the command: the last of a repeated option, a tuple for --device, float() for
--session-length. tests/test_report_args.py checks `parse` against click's own parse.
"""

from __future__ import annotations

import os
from typing import Any, NamedTuple


class Opt(NamedTuple):
    """One option: click.option(*flags, dest, ...) in reports_cmd.py."""

    dest: str
    flags: tuple[str, ...]
    kind: str = "value"  # value | flag | multiple | float
    choices: tuple[str, ...] | None = None
    default: Any = None
    metavar: str | None = None
    help: str = ""
    hidden: bool = False
    show_default: bool = False


WEEKDAYS = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")

COMMON = (
    Opt("since", ("--since", "-s"), metavar="DATE", help="First day to include (YYYYMMDD or YYYY-MM-DD)."),
    Opt("until", ("--until", "-u"), metavar="DATE", help="Last day to include (YYYYMMDD or YYYY-MM-DD)."),
    Opt("tz", ("--timezone", "-z"), metavar="TZ", help="IANA zone for dates (default: system)."),
    Opt("order", ("--order", "-o"), choices=("asc", "desc"),
        help="Row order (default: asc; session and projects: most expensive first)."),
    Opt("mode", ("--mode", "-m"), choices=("auto", "calculate", "display"),
        help="Cost mode (default: auto, or cost_mode in config)."),
    Opt("breakdown", ("--breakdown", "-b"), "flag", default=False, help="Show a row per model."),
    Opt("as_json", ("--json", "-j"), "flag", default=False, help="Print JSON (ccusage-compatible)."),
    Opt("devices", ("--device",), "multiple", default=(), metavar="NAME", help="Only this device (repeatable)."),
    Opt("by_device", ("--by-device",), "flag", default=False, help="Show a row per device."),
    Opt("provider", ("--provider",), choices=("claude", "codex", "all"), default="all", show_default=True,
        help="Which provider's usage."),
    Opt("offline", ("--offline", "-O"), "flag", default=False, hidden=True, help="Accepted for ccusage compatibility."),
)

_PROJECT = Opt("project", ("--project", "-p"), metavar="NAME", help="Only this project (folder name).")


def _start_of_week(hidden: bool) -> Opt:
    return Opt("start_of_week", ("--start-of-week", "-w"), choices=WEEKDAYS, default="sunday", show_default=True,
               hidden=hidden, help="First day of the week.")


EXTRA: dict[str, tuple[Opt, ...]] = {
    "daily": (_PROJECT, _start_of_week(True)),
    "weekly": (_PROJECT, _start_of_week(False)),
    "monthly": (_PROJECT, _start_of_week(True)),
    "session": (Opt("session_id", ("--id", "-i"), metavar="ID", help="Only this session."),),
    "projects": (_PROJECT,),
    "blocks": (
        Opt("active", ("--active", "-a"), "flag", default=False, help="Only the active block."),
        Opt("recent", ("--recent", "-r"), "flag", default=False,
            help="Only blocks of the last 3 days (and the active one)."),
        Opt("token_limit", ("--token-limit", "-t"), metavar="N|max",
            help="Token limit for warnings; 'max' = highest past block."),
        Opt("session_length", ("--session-length", "-n"), "float", default=5.0, show_default=True,
            help="Block length in hours."),
        Opt("live", ("--live", "-l"), "flag", default=False,
            help="A full-screen view of the active block that refreshes (q quits)."),
        Opt("compact", ("--compact",), "flag", default=False,
            help="Live view, compact layout whatever the size (implies --live)."),
    ),
}

COMMANDS = tuple(EXTRA)


def options(command: str) -> tuple[Opt, ...]:
    """A report command's options, in the order its help lists them."""
    return COMMON + EXTRA[command]


_NOT_FAST = frozenset(("live", "compact"))  # the live view is click's (it needs the context)
_TABLES: dict[str, dict[str, Opt]] = {}


def _table(command: str) -> dict[str, Opt]:
    t = _TABLES.get(command)
    if t is None:
        t = _TABLES[command] = {flag: o for o in options(command) for flag in o.flags}
    return t


class Parsed(NamedTuple):
    home: str | None  # --home's value (or $MESHD_HOME's), as given
    command: str
    opts: dict[str, Any]  # dest -> value, click's defaults filled in


def parse(argv: list[str], environ: os._Environ[str] | dict[str, str] | None = None) -> Parsed | None:
    """A plain report command line (without the program name), or None for click to handle."""
    env = os.environ if environ is None else environ
    home: str | None = None
    i = 0
    n = len(argv)
    while i < n and argv[i].startswith("--home"):  # the group's only option the fast path takes
        a = argv[i]
        if a == "--home" and i + 1 < n:
            home, i = argv[i + 1], i + 2
        elif a.startswith("--home="):
            home, i = a[7:], i + 1
        else:
            return None
    if i >= n or argv[i] not in EXTRA:
        return None
    command = argv[i]
    table = _table(command)
    opts: dict[str, Any] = {o.dest: o.default for o in options(command)}
    devices: list[str] = []
    i += 1
    while i < n:
        a = argv[i]
        i += 1
        o = table.get(a)
        value: str | None = None
        if o is None:
            if not a.startswith("--") or "=" not in a:
                return None  # positional, clustered short options, -xVALUE, unknown: click's
            name, value = a.split("=", 1)
            o = table.get(name)
            if o is None or o.kind == "flag":
                return None
        if o.dest in _NOT_FAST:
            return None
        if o.kind == "flag":
            opts[o.dest] = True
            continue
        if value is None:
            if i >= n:
                return None  # a missing value: click's error
            value = argv[i]
            i += 1
        if value in ("-h", "--help", "--version"):
            return None  # click would take it as the value too; leave any doubt to click
        if o.choices is not None and value not in o.choices:
            return None
        if o.kind == "multiple":
            devices.append(value)
        elif o.kind == "float":
            try:
                opts[o.dest] = float(value)
            except ValueError:
                return None
        else:
            opts[o.dest] = value
    if devices:
        opts["devices"] = tuple(devices)
    if home is None:
        home = env.get("MESHD_HOME") or None
    if home is not None and not _home_ok(home):
        return None
    return Parsed(home, command, opts)


def _home_ok(value: str) -> bool:
    """click.Path(file_okay=False) accepts it: missing, or readable and not a regular file."""
    import stat

    try:
        st = os.stat(value)
    except OSError:
        return True
    except ValueError:  # a NUL byte: whatever click makes of it
        return False
    return not stat.S_ISREG(st.st_mode) and os.access(value, os.R_OK)
