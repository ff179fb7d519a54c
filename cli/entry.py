"""The `meshctl` executable: `meshctl [--home DIR] statusline` runs without loading click.

Claude Code runs the statusline on every refresh, so its start-up matters; every other command
(and any other argument) goes through the click group in main.py.
"""

from __future__ import annotations

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
    fast, home = _statusline_home(sys.argv[1:])
    if fast:
        from pathlib import Path

        from meshctl.statusline import run

        run(Path(home).expanduser().absolute() if home else None)
        return
    from meshctl.main import cli

    cli(prog_name="meshctl")
