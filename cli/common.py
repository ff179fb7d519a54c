"""What every meshctl command shares: opening the replica, ingesting first, parsing options."""

from __future__ import annotations

import sys
import time
from datetime import date

import click

from meshd.config import Config, load_config
from meshd.store.replica import Replica


def get_config(ctx: click.Context) -> Config:
    obj = ctx.find_root().obj or {}
    return load_config(obj.get("home"))


def open_and_ingest(ctx: click.Context, *, ingest: bool = True, quiet: bool = False) -> tuple[Config, Replica]:
    """Open this home's replica and ingest new local lines first (no daemon needed)."""
    from meshd.app import ingest_local, open_replica

    config = get_config(ctx)
    replica = open_replica(config)
    if ingest:
        progress = None if quiet or not sys.stderr.isatty() else _Progress()
        ingest_local(replica, config, progress=progress, parallel=True)
        if progress is not None:
            progress.done()
    return config, replica


class _Progress:
    """A one-line progress indicator on stderr for long first ingests."""

    def __init__(self) -> None:
        self.t0 = time.monotonic()
        self.shown = False
        self.last = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if total < 16 << 20 or now - self.last < 0.2:
            return
        self.last = now
        self.shown = True
        pct = 100.0 * done / total if total else 100.0
        rate = done / max(now - self.t0, 1e-6) / 1e6
        sys.stderr.write(f"\rmeshctl: ingesting local logs {pct:5.1f}%  {done / 1e6:,.0f}/{total / 1e6:,.0f} MB  {rate:,.0f} MB/s")
        sys.stderr.flush()

    def done(self) -> None:
        if self.shown:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()


def parse_day(value: str | None, name: str) -> date | None:
    """--since/--until: YYYYMMDD or YYYY-MM-DD."""
    if value is None:
        return None
    from meshd.core.periods import parse_date_arg

    return parse_date_arg(value, name)
