"""mDNS discovery: advertise and browse `_meshd._tcp.local.` with python-zeroconf's asyncio API.

Addresses found here are hints for the peer table; liveness comes from gRPC and identity from
TLS (netns-lab.md §2b): a SIGKILLed peer is never "Removed", so Removed is ignored; a restarted
peer may produce no event or only Updated, so Updated re-resolves; the browser stops querying
after ~14 s, so a PTR query goes out every `requery` seconds to rediscover healed partitions.
TXT carries only v (protocol version), fp (mesh fingerprint), id (device id) and boot (boot id).
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import logging
import socket
from collections.abc import Callable
from pathlib import Path

from zeroconf import DNSOutgoing, DNSQuestion, InterfaceChoice, IPVersion, ServiceStateChange
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf
from zeroconf.const import _CLASS_IN, _FLAGS_QR_QUERY, _TYPE_PTR

from meshd.sync.gossip import PROTOCOL_VERSION

log = logging.getLogger("meshd.mdns")

SERVICE = "_meshd._tcp.local."
REQUERY_SECONDS = 5.0

Found = Callable[[list[str], int, str], None]  # (IPv4 addresses, port, device id)


def mesh_fingerprint(home: Path) -> str:
    """TXT `fp`: hash of the mesh CA's public key; a fixed placeholder when the home has no mesh."""
    try:
        from meshd.security import pki

        fp = pki.mesh_fingerprint(home)
    except ImportError:
        fp = None
    return fp or hashlib.sha256(b"meshd: no mesh").hexdigest()[:16]


def txt_record(device_id: str, fingerprint: str, boot_id: str) -> dict[str, str]:
    return {"v": str(PROTOCOL_VERSION), "fp": fingerprint, "id": device_id, "boot": boot_id}


def advertised_addresses(listen_host: str) -> list[str]:
    """The IPv4 addresses to advertise: the listen host, or every non-loopback interface address."""
    if listen_host not in ("", "0.0.0.0", "::", "[::]"):
        try:
            ipaddress.IPv4Address(listen_host)
            return [listen_host]
        except ValueError:
            pass
    import ifaddr

    out = []
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            if isinstance(ip.ip, str) and not ip.ip.startswith("127.") and not ip.ip.startswith("169.254."):
                out.append(ip.ip)
    return sorted(set(out)) or ["127.0.0.1"]


class Discovery:
    """Advertise this daemon and report other meshd daemons of the same mesh."""

    def __init__(self, device_id: str, port: int, fingerprint: str, boot_id: str, on_found: Found, *,
                 listen_host: str = "0.0.0.0", requery: float = REQUERY_SECONDS) -> None:
        self.device_id = device_id
        self.port = port
        self.fingerprint = fingerprint
        self.boot_id = boot_id
        self.on_found = on_found
        self.listen_host = listen_host
        self.requery = requery
        self.azc: AsyncZeroconf | None = None
        self.browser: AsyncServiceBrowser | None = None
        self.info: AsyncServiceInfo | None = None
        self.tasks: set[asyncio.Task[None]] = set()
        self.found: dict[str, tuple[list[str], int]] = {}

    async def start(self) -> None:
        """Register our service and start browsing (inside the running loop)."""
        self.azc = AsyncZeroconf(interfaces=InterfaceChoice.All, ip_version=IPVersion.V4Only)
        addrs = advertised_addresses(self.listen_host)
        self.info = AsyncServiceInfo(
            SERVICE, f"{self.device_id}.{SERVICE}", port=self.port,
            addresses=[socket.inet_aton(a) for a in addrs],
            properties=txt_record(self.device_id, self.fingerprint, self.boot_id),
            server=f"meshd-{self.device_id[:16]}.local.",
        )
        self.browser = AsyncServiceBrowser(self.azc.zeroconf, SERVICE, handlers=[self._on_change])
        self._spawn(self._register())
        self._spawn(self._requery_loop())
        log.info("mdns: advertising %s on %s port %d", SERVICE, ",".join(addrs), self.port)

    def _spawn(self, coro) -> None:  # type: ignore[no-untyped-def]
        t = asyncio.ensure_future(coro)
        self.tasks.add(t)
        t.add_done_callback(self.tasks.discard)

    async def _register(self) -> None:
        assert self.azc is not None and self.info is not None
        try:
            await (await self.azc.async_register_service(self.info))
        except Exception as e:  # a name conflict or a socket error must not kill the daemon
            log.error("mdns: cannot register %s: %s", self.info.name, e)

    async def _requery_loop(self) -> None:
        while True:
            await asyncio.sleep(self.requery)
            try:
                out = DNSOutgoing(_FLAGS_QR_QUERY)
                out.add_question(DNSQuestion(SERVICE, _TYPE_PTR, _CLASS_IN))
                assert self.azc is not None
                self.azc.zeroconf.async_send(out)
            except Exception as e:
                log.debug("mdns: re-query failed: %s", e)

    def _on_change(self, zeroconf, service_type: str, name: str, state_change: ServiceStateChange) -> None:  # type: ignore[no-untyped-def]
        # Removed is not a liveness signal (a crashed peer never sends it); only resolve news.
        if state_change in (ServiceStateChange.Added, ServiceStateChange.Updated):
            self._spawn(self._resolve(service_type, name))

    async def _resolve(self, service_type: str, name: str) -> None:
        assert self.azc is not None
        info = AsyncServiceInfo(service_type, name)
        try:
            if not await info.async_request(self.azc.zeroconf, 3000):
                return
        except Exception as e:
            log.debug("mdns: resolving %s failed: %s", name, e)
            return
        props = {k.decode(errors="replace"): (v or b"").decode(errors="replace") for k, v in (info.properties or {}).items()}
        did = props.get("id", "")
        if did == self.device_id or not name.startswith(f"{did}."):
            return
        if props.get("v") != str(PROTOCOL_VERSION) or props.get("fp") != self.fingerprint:
            log.debug("mdns: ignoring %s (another mesh or protocol version)", name)
            return
        addrs = [a for a in info.parsed_addresses(IPVersion.V4Only)]
        if not addrs or not info.port:
            return
        if self.found.get(did) != (addrs, info.port):
            log.info("mdns: found %s at %s port %d", did[:12], ",".join(addrs), info.port)
        self.found[did] = (addrs, info.port)
        self.on_found(addrs, info.port, did)

    async def close(self) -> None:
        """Say goodbye (unregister) and stop browsing."""
        for t in list(self.tasks):
            t.cancel()
        if self.browser is not None:
            await self.browser.async_cancel()
        if self.azc is not None:
            try:
                await asyncio.wait_for(self.azc.async_close(), 3)
            except (asyncio.TimeoutError, Exception) as e:
                log.debug("mdns: close: %s", e)
