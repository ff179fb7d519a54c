"""What every meshctl command shares: opening the replica and ingesting first."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from meshd.config import Config, load_config
from meshctl.progress import Progress as _Progress

if TYPE_CHECKING:
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
