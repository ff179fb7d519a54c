"""`meshd` / `python -m meshd`: the daemon's command line."""

from __future__ import annotations


def main() -> None:
    from meshd.daemon_cli import cli

    cli()


if __name__ == "__main__":
    main()
