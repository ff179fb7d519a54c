"""An independent mDNS browser (python-zeroconf), run as its own process inside a lab host.

    python tests/mdns_browse.py [--type _meshd._tcp.local.] [--seconds 6] [--want N]

Prints one JSON object per resolved service instance on stdout:
{"name", "addresses", "port", "txt": {key: value}} (TXT values decoded as UTF-8, or null when a
key has no value). Exits after --seconds, or as soon as --want instances are resolved.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from zeroconf import IPVersion, ServiceStateChange
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf


async def browse(stype: str, seconds: float, want: int) -> None:
    azc = AsyncZeroconf(ip_version=IPVersion.V4Only)
    seen: dict[str, dict] = {}
    pending: set[asyncio.Task] = set()
    done = asyncio.Event()

    async def resolve(name: str) -> None:
        info = AsyncServiceInfo(stype, name)
        if not await info.async_request(azc.zeroconf, 3000):
            return
        txt = {k.decode("utf-8", "replace"): (None if v is None else v.decode("utf-8", "replace"))
               for k, v in (info.properties or {}).items()}
        rec = {"name": name, "addresses": info.parsed_addresses(), "port": info.port, "txt": txt}
        if seen.get(name) != rec:
            seen[name] = rec
            print(json.dumps(rec), flush=True)
        if want and len(seen) >= want:
            done.set()

    def on_change(zeroconf, service_type, name, state_change) -> None:  # noqa: ANN001
        if state_change in (ServiceStateChange.Added, ServiceStateChange.Updated):
            t = asyncio.ensure_future(resolve(name))
            pending.add(t)
            t.add_done_callback(pending.discard)

    browser = AsyncServiceBrowser(azc.zeroconf, stype, handlers=[on_change])
    try:
        await asyncio.wait_for(done.wait(), seconds)
    except asyncio.TimeoutError:
        pass
    await browser.async_cancel()
    await azc.async_close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--type", default="_meshd._tcp.local.")
    ap.add_argument("--seconds", type=float, default=6.0)
    ap.add_argument("--want", type=int, default=0)
    a = ap.parse_args()
    asyncio.run(browse(a.type, a.seconds, a.want))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
