"""Pairing a new machine with a one-time invite code, SPAKE2 and the mesh CA.

Code: `mesh-IIII-SSSS-SSSS-SSSS[@host:port]` in lowercase RFC 4648 base32. `IIII` (20 bits) is the
invite's public id, sent in clear so the inviter can find the invite; the 60 secret bits never
leave either machine. Both sides run SPAKE2 (Ed25519 group) with password = SHA-256 of the whole
code, then key-confirm (the joiner first) and exchange a CSR and the signed certificate sealed with
AES-256-GCM under keys derived from the PAKE key. A passive eavesdropper learns the invite id, the
PAKE messages and ciphertexts: nothing that helps guessing the code offline. An active attacker
gets one online guess per code: the inviter marks an invite as claimed before answering the first
PAKE message, so any attempt (wrong, right or abandoned) consumes it.

Invites live in `<home>/tls/invites.db` (0600): the invite id, SHA-256 of the code (which is the
SPAKE2 password, so it is as sensitive as the code while the invite lives — next to ca.key),
expiry and state (open, claimed, used, burned).

Attempts are rate-limited per client address and overall (RESOURCE_EXHAUSTED).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import os
import secrets
import sqlite3
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import grpc
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from meshd.errors import PairingError
from meshd.security import KeyMaterialError, pki

log = logging.getLogger("meshd.pairing")

PROTOCOL_VERSION = 1
ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
DEFAULT_TTL = 600.0
MAX_TTL = 24 * 3600.0
PAIRING_PORT_OFFSET = 1
PORT_FILE = "pairing.addr"
INVITES_DB = "invites.db"
MAX_MESSAGE = 64 * 1024
STEP_TIMEOUT = 20.0
ID_A = b"meshd-join-v1:joiner"
ID_B = b"meshd-join-v1:inviter"
PREFIX = "mesh"


# -- codes ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class InviteCode:
    code_id: str
    secret: str  # the three secret groups joined by '-'
    address: str | None = None

    @property
    def text(self) -> str:
        return f"{PREFIX}-{self.code_id}-{self.secret}"

    def __str__(self) -> str:
        return self.text + (f"@{self.address}" if self.address else "")

    @property
    def password(self) -> bytes:
        return hashlib.sha256(b"meshd-invite-v1\x00" + self.text.encode()).digest()


def _group() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(4))


def new_code(address: str | None = None) -> InviteCode:
    """A fresh code: 4-char public id + 12 secret base32 chars (60 bits)."""
    return InviteCode(_group(), "-".join(_group() for _ in range(3)), address)


def parse_code(text: str) -> InviteCode:
    """Parse `mesh-xxxx-xxxx-xxxx-xxxx[@host:port]` (case and surrounding spaces ignored)."""
    s = text.strip()
    addr = None
    if "@" in s:
        s, addr = s.split("@", 1)
        addr = addr.strip() or None
    parts = s.strip().lower().replace(" ", "").split("-")
    bad = PairingError(
        f"not an invite code: {text.strip()[:40]!r}",
        hint="copy the last line `meshctl invite` printed, e.g. mesh-abcd-efgh-ijkl-mnop",
    )
    if len(parts) != 5 or parts[0] != PREFIX:
        raise bad
    for p in parts[1:]:
        if len(p) != 4 or any(c not in ALPHABET for c in p):
            raise bad
    return InviteCode(parts[1], "-".join(parts[2:]), addr)


# -- the invite store --------------------------------------------------------------------------


class InviteStore:
    """Invites in `<home>/tls/invites.db`, hashed, with expiry and a one-shot state."""

    def __init__(self, home: Path) -> None:
        d = pki.ensure_tls_dir(home)
        self.path = d / INVITES_DB
        if not self.path.exists():
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600)
            os.close(fd)
        pki._check_owner_only(self.path, is_dir=False)
        self.conn = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS invites(code_id TEXT PRIMARY KEY, pw BLOB NOT NULL, created REAL NOT NULL,"
            " expires REAL NOT NULL, state TEXT NOT NULL, device_id TEXT, peer TEXT, updated REAL)"
        )

    def close(self) -> None:
        self.conn.close()

    def create(self, ttl: float = DEFAULT_TTL, address: str | None = None) -> tuple[InviteCode, float]:
        now = time.time()
        self.conn.execute("DELETE FROM invites WHERE expires < ?", (now - 7 * 86400,))
        for _ in range(20):
            code = new_code(address)
            try:
                self.conn.execute(
                    "INSERT INTO invites(code_id, pw, created, expires, state) VALUES(?,?,?,?, 'open')",
                    (code.code_id, code.password, now, now + ttl),
                )
                return code, now + ttl
            except sqlite3.IntegrityError:
                continue
        raise PairingError("too many outstanding invites", hint="wait for them to expire")

    def claim(self, code_id: str, peer: str) -> bytes:
        """Atomically take an open invite for one attempt; returns its SPAKE2 password or raises."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            row = self.conn.execute("SELECT pw, expires, state FROM invites WHERE code_id=?", (code_id,)).fetchone()
            if row is None:
                raise _Refused(grpc.StatusCode.NOT_FOUND, "unknown invite code: check it, or create a new one with `meshctl invite`")
            pw, expires, state = row
            if state != "open":
                why = {
                    "used": "has already been used",
                    "claimed": "was already tried (one attempt per code)",
                    "burned": "was burned by a failed attempt (wrong code)",
                }.get(state, "is no longer valid")
                raise _Refused(grpc.StatusCode.FAILED_PRECONDITION, f"invite code {why}; create a new one with `meshctl invite`")
            if time.time() > expires:
                self.conn.execute("UPDATE invites SET state='expired', updated=? WHERE code_id=?", (time.time(), code_id))
                self.conn.execute("COMMIT")
                raise _Refused(grpc.StatusCode.DEADLINE_EXCEEDED, "invite code expired; create a new one with `meshctl invite`")
            self.conn.execute("UPDATE invites SET state='claimed', peer=?, updated=? WHERE code_id=?", (peer, time.time(), code_id))
            self.conn.execute("COMMIT")
            return bytes(pw)
        except _Refused:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise
        except BaseException:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise

    def finish(self, code_id: str, state: str, device_id: str | None = None) -> None:
        self.conn.execute(
            "UPDATE invites SET state=?, device_id=?, updated=? WHERE code_id=?", (state, device_id, time.time(), code_id)
        )

    def state(self, code_id: str) -> str | None:
        row = self.conn.execute("SELECT state FROM invites WHERE code_id=?", (code_id,)).fetchone()
        return None if row is None else str(row[0])


class _Refused(Exception):
    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# -- keys from the PAKE ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Keys:
    confirm_a: bytes
    confirm_b: bytes
    seal_a: bytes
    seal_b: bytes
    transcript: bytes


def _derive(key: bytes, code_id: str, pake_a: bytes, pake_b: bytes) -> _Keys:
    transcript = hashlib.sha256(
        b"meshd-join-v1\x00" + code_id.encode() + b"\x00" + len(pake_a).to_bytes(2, "big") + pake_a + pake_b
    ).digest()
    okm = HKDF(hashes.SHA256(), 128, salt=transcript, info=b"meshd-join-v1 keys").derive(key)
    return _Keys(okm[:32], okm[32:64], okm[64:96], okm[96:], transcript)


def _mac(key: bytes, label: bytes, transcript: bytes) -> bytes:
    return hmac.new(key, label + transcript, hashlib.sha256).digest()


def _seal(key: bytes, data: bytes, aad: bytes) -> tuple[bytes, bytes]:
    nonce = secrets.token_bytes(12)
    return nonce, AESGCM(key).encrypt(nonce, data, aad)


def _open(key: bytes, nonce: bytes, data: bytes, aad: bytes) -> bytes:
    if len(nonce) != 12:
        raise ValueError("bad nonce")
    return AESGCM(key).decrypt(nonce, data, aad)


# -- rate limiting -----------------------------------------------------------------------------


class RateLimiter:
    """At most `per_peer` attempts per client address and `total` overall per `window` seconds."""

    def __init__(self, per_peer: int = 5, total: int = 20, window: float = 60.0) -> None:
        self.per_peer, self.total, self.window = per_peer, total, window
        self.hits: dict[str, deque[float]] = {}
        self.all: deque[float] = deque()

    def allow(self, peer: str) -> bool:
        now = time.monotonic()
        cut = now - self.window
        while self.all and self.all[0] < cut:
            self.all.popleft()
        q = self.hits.setdefault(peer, deque())
        while q and q[0] < cut:
            q.popleft()
        if len(q) >= self.per_peer or len(self.all) >= self.total:
            return False
        q.append(now)
        self.all.append(now)
        if len(self.hits) > 4096:
            self.hits = {k: v for k, v in self.hits.items() if v}
        return True


def peer_host(peer: str) -> str:
    """`ipv4:1.2.3.4:5678` / `ipv6:[::1]:5678` -> the host part (rate-limit key)."""
    p = peer.split(":", 1)[1] if peer.startswith(("ipv4:", "ipv6:")) else peer
    if p.startswith("["):
        return p[1 : p.find("]")]
    return p.rsplit(":", 1)[0] if ":" in p else p


# -- the inviter's side (a daemon holding the CA key) ----------------------------------------


class PairingServicer:
    """meshd.v1.Pairing on a CA-holding daemon. `revoked()` returns the forgotten device ids."""

    def __init__(self, home: Path, material: pki.MeshMaterial, revoked: Callable[[], set[str]] | None = None,
                 limiter: RateLimiter | None = None) -> None:
        if not material.is_ca_holder:
            raise KeyMaterialError("only the machine holding the mesh CA key can serve pairing")
        self.home = home
        self.material = material
        self.revoked = revoked or (lambda: set())
        self.limiter = limiter or RateLimiter()
        self.store = InviteStore(home)

    async def Join(self, request_iterator, context):  # noqa: N802 (gRPC name)
        from meshd.v1 import pairing_pb2 as pb

        peer = context.peer() or "?"
        host = peer_host(peer)
        if not self.limiter.allow(host):
            log.warning("pairing: rate limit hit by %s", host)
            await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, "too many join attempts; wait a minute and retry")
        it = request_iterator.__aiter__()

        async def receive(what: str):
            try:
                return await asyncio.wait_for(it.__anext__(), STEP_TIMEOUT)
            except (StopAsyncIteration, asyncio.TimeoutError):
                await context.abort(grpc.StatusCode.DEADLINE_EXCEEDED, f"pairing: no {what} message in time")

        first = await receive("start")
        if first.WhichOneof("msg") != "start":
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "pairing: expected a start message first")
        st = first.start
        if st.version != PROTOCOL_VERSION:
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, f"pairing: protocol version {st.version} is not supported (want {PROTOCOL_VERSION})")
        if len(st.code_id) != 4 or any(c not in ALPHABET for c in st.code_id) or not 1 <= len(st.pake) <= 128:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "pairing: malformed start message")
        try:
            pw = self.store.claim(st.code_id, host)
        except _Refused as r:
            log.warning("pairing: refused %s from %s: %s", st.code_id, host, r.message)
            await context.abort(r.code, r.message)
        code_id = st.code_id
        ok = False
        try:
            from spake2 import SPAKE2_B

            sb = SPAKE2_B(pw, idA=ID_A, idB=ID_B)
            pake_b = sb.start()
            try:
                key = sb.finish(bytes(st.pake))
            except Exception:
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "pairing: malformed PAKE message; the invite is burned")
            keys = _derive(key, code_id, bytes(st.pake), pake_b)
            await context.write(pb.JoinMessage(challenge=pb.Challenge(pake=pake_b)))
            nxt = await receive("finish")
            if nxt.WhichOneof("msg") != "finish":
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "pairing: expected a finish message")
            fin = nxt.finish
            if not hmac.compare_digest(bytes(fin.confirm), _mac(keys.confirm_a, b"joiner", keys.transcript)):
                log.warning("pairing: wrong code for invite %s from %s; invite burned", code_id, host)
                await context.abort(
                    grpc.StatusCode.PERMISSION_DENIED,
                    "wrong invite code (key confirmation failed); the invite is now burned, create a new one with `meshctl invite`",
                )
            try:
                csr = _open(keys.seal_a, bytes(fin.nonce), bytes(fin.sealed_csr), keys.transcript)
            except Exception:
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "pairing: sealed request does not decrypt")
            try:
                ca_key, ca = self.material.ca_key, self.material.ca_cert
                cert, device_id = pki.sign_csr(ca_key, ca, csr)
            except KeyMaterialError as e:
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"pairing: bad certificate request: {e}")
            revoked = set(self.revoked())
            if device_id in revoked:
                await context.abort(
                    grpc.StatusCode.PERMISSION_DENIED,
                    f"device {device_id[:12]} was removed from this mesh (forgotten) and cannot rejoin with the same id",
                )
            grant = pb.Grant(
                device_cert=pki.cert_pem(cert), ca_cert=self.material.ca_cert_pem, revoked=sorted(revoked),
                inviter_id=self.material.device_id, mesh_fingerprint=self.material.fingerprint,
            ).SerializeToString()
            nonce, sealed = _seal(keys.seal_b, grant, keys.transcript)
            self.store.finish(code_id, "used", device_id)
            ok = True
            log.info("pairing: device %s joined with invite %s from %s", device_id[:12], code_id, host)
            await context.write(pb.JoinMessage(welcome=pb.Welcome(
                confirm=_mac(keys.confirm_b, b"inviter", keys.transcript), nonce=nonce, sealed_grant=sealed)))
        finally:
            if not ok:
                self.store.finish(code_id, "burned")


def write_pairing_address(home: Path, address: str) -> None:
    """The daemon records where it serves pairing, so `meshctl invite` can print it."""
    pki.write_private(pki.ensure_tls_dir(home) / PORT_FILE, address.encode())


def read_pairing_address(home: Path) -> str | None:
    try:
        return (pki.tls_dir(home) / PORT_FILE).read_text().strip() or None
    except OSError:
        return None


def pairing_listen(listen: str, override: object = None) -> str:
    """Where pairing listens: config `pairing_listen`, else the peer listen host with port + 1."""
    if isinstance(override, str) and override:
        return override
    host, _, port = listen.rpartition(":")
    return f"{host}:{int(port) + PAIRING_PORT_OFFSET}" if port.isdigit() and int(port) else f"{host or '0.0.0.0'}:0"


async def start_pairing_server(home: Path, material: pki.MeshMaterial, listen: str,
                               revoked: Callable[[], set[str]] | None = None) -> tuple[grpc.aio.Server, int]:
    """A separate plaintext gRPC server hosting only meshd.v1.Pairing (CA holders only).

    Plaintext is deliberate: the joiner has no trust anchor yet, and SPAKE2 + AES-GCM protect
    everything secret. Returns (server, bound port).
    """
    from meshd.v1 import pairing_pb2_grpc

    server = grpc.aio.server(options=[
        ("grpc.max_receive_message_length", MAX_MESSAGE),
        ("grpc.max_send_message_length", MAX_MESSAGE),
        ("grpc.max_concurrent_streams", 8),
    ], maximum_concurrent_rpcs=16)
    pairing_pb2_grpc.add_PairingServicer_to_server(PairingServicer(home, material, revoked), server)
    port = server.add_insecure_port(listen)
    if not port:
        raise PairingError(f"cannot listen for pairing on {listen}")
    await server.start()
    return server, port


# -- the joiner's side ------------------------------------------------------------------------


def _candidates(address: str) -> list[str]:
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise PairingError(f"bad address {address!r}", hint="use HOST:PORT")
    return [address, f"{host}:{int(port) + PAIRING_PORT_OFFSET}"]


async def join_async(home: Path, code: InviteCode, address: str, device_id: str, *, timeout: float = 30.0) -> pki.MeshMaterial:
    """Run the joiner's side against `address` and write `<home>/tls/` on success."""
    from spake2 import SPAKE2_A

    from meshd.v1 import pairing_pb2 as pb
    from meshd.v1 import pairing_pb2_grpc

    key = pki.new_key()
    csr = pki.csr_pem(pki.make_csr(key, device_id))
    last_err: Exception | None = None
    for target in _candidates(address):
        async with grpc.aio.insecure_channel(target, options=[("grpc.max_receive_message_length", MAX_MESSAGE)]) as ch:
            try:
                await asyncio.wait_for(ch.channel_ready(), 5 if target != address else 8)
            except asyncio.TimeoutError:
                last_err = PairingError(f"cannot reach the inviter at {target}")
                continue
            sa = SPAKE2_A(code.password, idA=ID_A, idB=ID_B)
            pake_a = sa.start()
            stub = pairing_pb2_grpc.PairingStub(ch)
            call = stub.Join(timeout=timeout)
            try:
                await call.write(pb.JoinMessage(start=pb.Start(version=PROTOCOL_VERSION, code_id=code.code_id, pake=pake_a)))
                msg = await call.read()
                if msg is grpc.aio.EOF or msg.WhichOneof("msg") != "challenge":
                    raise PairingError("the inviter answered out of protocol")
                pake_b = bytes(msg.challenge.pake)
                try:
                    k = sa.finish(pake_b)
                except Exception:
                    raise PairingError("the inviter sent a malformed PAKE message") from None
                keys = _derive(k, code.code_id, pake_a, pake_b)
                nonce, sealed = _seal(keys.seal_a, csr, keys.transcript)
                await call.write(pb.JoinMessage(finish=pb.Finish(
                    confirm=_mac(keys.confirm_a, b"joiner", keys.transcript), nonce=nonce, sealed_csr=sealed)))
                msg = await call.read()
                if msg is grpc.aio.EOF or msg.WhichOneof("msg") != "welcome":
                    raise PairingError("the inviter answered out of protocol")
                w = msg.welcome
                if not hmac.compare_digest(bytes(w.confirm), _mac(keys.confirm_b, b"inviter", keys.transcript)):
                    raise PairingError("the inviter failed key confirmation (wrong code or impostor)")
                try:
                    grant = pb.Grant.FromString(_open(keys.seal_b, bytes(w.nonce), bytes(w.sealed_grant), keys.transcript))
                except Exception:
                    raise PairingError("the inviter's answer does not decrypt") from None
                await call.done_writing()
            except grpc.aio.AioRpcError as e:
                if e.code() == grpc.StatusCode.UNAVAILABLE:
                    last_err = PairingError(f"cannot reach the inviter at {target}: {e.details()}")
                    continue
                if e.code() == grpc.StatusCode.UNIMPLEMENTED:
                    last_err = PairingError(f"{target} does not serve pairing")
                    continue
                raise PairingError(f"join refused: {e.details()}") from None
            ca = pki.load_cert(bytes(grant.ca_cert))
            cert = pki.load_cert(bytes(grant.device_cert))
            if pki.verify_device_cert(ca, cert) != device_id:
                raise PairingError("the inviter issued a certificate for another device id")
            if cert.public_key().public_numbers() != key.public_key().public_numbers():  # type: ignore[union-attr]
                raise PairingError("the inviter issued a certificate for another key")
            pki.save_material(home, ca_cert_pem=bytes(grant.ca_cert), device_key_pem=pki.key_pem(key),
                              device_cert_pem=bytes(grant.device_cert))
            return pki.load_material(home, expect_device_id=device_id)
    raise last_err or PairingError(f"cannot reach the inviter at {address}")


def join(home: Path, code_text: str, address: str | None, device_id: str, *, force: bool = False) -> pki.MeshMaterial:
    """`meshctl join`: parse the code, refuse to clobber an existing mesh, pair."""
    code = parse_code(code_text)
    addr = address or code.address
    if not addr:
        raise PairingError("no inviter address", hint="pass --address HOST:PORT (printed by `meshctl invite`)")
    if pki.has_material(home) and not force:
        raise PairingError(
            f"this machine already belongs to a mesh (fingerprint {pki.mesh_fingerprint(home)})",
            hint="use `meshctl join --force CODE` to leave it and join another",
        )
    return asyncio.run(join_async(home, code, addr, device_id))


def guess_address(port: int) -> str | None:
    """This machine's likely LAN address with `port` (no packet is sent)."""
    import socket

    for probe in ("192.0.2.1", "10.255.255.255"):
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.connect((probe, 9))
                ip = s.getsockname()[0]
                if ip and not ip.startswith("0."):
                    return f"{ip}:{port}"
        except OSError:
            continue
    return None
