"""`meshd` / `python -m meshd`: the daemon's command line."""

from __future__ import annotations

import sys


def main() -> None:
    try:
        from meshd.daemon_cli import cli  # type: ignore[import-not-found]
    except ImportError:
        sys.stderr.write("meshd: the daemon is not part of this build yet; meshctl reports work without it\n")
        raise SystemExit(2) from None
    cli()


if __name__ == "__main__":
    main()
