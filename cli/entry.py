"""The `meshctl` executable. Two commands run without loading click (about a sixth of their run):

- `meshctl [--home DIR] statusline` (Claude Code runs it on every refresh);
- the report commands (daily, weekly, monthly, session, projects, blocks) when their command
  line is plain (report_args.parse); their errors print as MeshGroup prints them.

Everything else (help, errors in the command line, other commands) goes through the click group
in main.py.
"""

from __future__ import annotations

import os
import sys


def _statusline_home(argv: list[str]) -> tuple[bool, str | None]:
    """(is a plain statusline call, --home value) for argv without the program name."""
    if argv == ["statusline"]:
        return True, None
    if len(argv) == 3 and argv[0] == "--home" and argv[2] == "statusline" and argv[1]:
        return True, argv[1]
    if len(argv) == 2 and argv[0].startswith("--home=") and argv[1] == "statusline" and len(argv[0]) > 7:
        return True, argv[0][7:]
    return False, None


def main() -> None:
    argv = sys.argv[1:]
    fast, home = _statusline_home(argv)
    if fast:
        from pathlib import Path

        from meshctl.statusline import run

        run(Path(home).expanduser().absolute() if home else None)
        return
    from meshctl.report_args import parse

    parsed = parse(argv)
    if parsed is not None:
        _exit_now(_report(parsed))
    from meshctl.main import cli

    cli(prog_name="meshctl")


def _report(parsed) -> int:  # type: ignore[no-untyped-def]
    """Run a parsed report command; the exit code and messages of MeshGroup.invoke (cli/main.py)."""
    from meshd.errors import MeshError

    try:
        from pathlib import Path

        from meshctl.report_views import show

        home = Path(parsed.home).expanduser().absolute() if parsed.home is not None else None
        show(home, parsed.command, parsed.opts)
    except MeshError as e:
        msg = f"meshctl: error: {e}"
        if e.hint:
            msg += f" (hint: {e.hint})"
        _err(msg)
        return 1
    except KeyboardInterrupt:
        _err("meshctl: interrupted")
        return 130
    except BrokenPipeError:
        # The reader (e.g. `| head`) went away: not an error.
        sys.stderr.close()
        return 0
    except Exception as e:  # never a traceback for users; MESHD_DEBUG=1 shows it
        if os.environ.get("MESHD_DEBUG"):
            raise
        _err(f"meshctl: internal error: {type(e).__name__}: {e} (hint: rerun with MESHD_DEBUG=1 for details)")
        return 2
    return 0


def _exit_now(code: int) -> None:
    """End a report command without the interpreter's teardown (about a sixth of a warm run).

    Nothing is left to do by then: the replica's connection closed when the report returned
    (the last one to close checkpoints the WAL, as always), a bulk ingest's checkpoint thread was
    joined, and the output is flushed here."""
    try:
        sys.stdout.flush()
    except (BrokenPipeError, ValueError):  # the reader went away, or stdout was closed
        pass
    try:
        sys.stderr.flush()
    except (BrokenPipeError, ValueError):
        pass
    os._exit(code)


def _err(msg: str) -> None:
    from meshctl.render import echo

    echo(msg, err=True)
