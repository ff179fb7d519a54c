"""A one-line progress indicator on stderr for long first ingests (no click: the report fast path)."""

from __future__ import annotations

import sys
import time


class Progress:
    """Call with (bytes done, bytes in all); shown from 16 MB of work on, at most 5 times a second."""

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
