"""Security: PKI, key permissions, pairing over real gRPC, mutual TLS refusals and revocation."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest

from meshd.errors import PairingError
from meshd.security import KeyMaterialError, pairing, pki, tls
from meshd.security.testing import foreign_material, make_mesh

A, B, C, D = ("a" * 32, "b" * 32, "c" * 32, "d" * 32)
ECHO = "/meshd.test.Echo/Say"
STREAM = "/meshd.test.Echo/Stream"


# -- PKI ----------------------------------------------------------------------------------------


def test_init_creates_owner_only_material(tmp_path: Path) -> None:
    m = pki.init_mesh(tmp_path / "h", A)
    d = pki.tls_dir(tmp_path / "h")
    assert os.stat(d).st_mode & 0o777 == 0o700
    for name in (pki.CA_CERT, pki.CA_KEY, pki.DEVICE_KEY, pki.DEVICE_CERT):
        assert os.stat(d / name).st_mode & 0o777 == 0o600, name
    assert m.device_id == A and m.is_ca_holder
    assert len(m.fingerprint) == 16 and int(m.fingerprint, 16) >= 0
    assert pki.mesh_fingerprint(tmp_path / "h") == m.fingerprint
    cert = pki.load_cert(m.device_cert_pem)
    assert pki.verify_device_cert(m.ca_cert, cert) == A
    assert pki.san_for(A) == f"{A}.meshd.invalid"


def test_init_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    m1 = pki.init_mesh(tmp_path, A)
    with pytest.raises(KeyMaterialError, match="already belongs to a mesh"):
        pki.init_mesh(tmp_path, A)
    m2 = pki.init_mesh(tmp_path, A, force=True)
    assert m2.fingerprint != m1.fingerprint


def test_key_with_group_permissions_is_refused(tmp_path: Path) -> None:
    pki.init_mesh(tmp_path, A)
    key = pki.tls_dir(tmp_path) / pki.DEVICE_KEY
    os.chmod(key, 0o640)
    with pytest.raises(KeyMaterialError, match="group or others") as e:
        pki.load_material(tmp_path)
    assert "chmod 600" in (e.value.hint or "")
    os.chmod(key, 0o600)
    os.chmod(pki.tls_dir(tmp_path), 0o755)
    with pytest.raises(KeyMaterialError, match="group or others"):
        pki.load_material(tmp_path)
    os.chmod(pki.tls_dir(tmp_path), 0o700)
    assert pki.load_material(tmp_path).device_id == A


def test_no_material_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(KeyMaterialError, match="not part of a mesh") as e:
        pki.load_material(tmp_path)
    assert "meshctl init" in (e.value.hint or "") and "meshctl join" in (e.value.hint or "")


def test_csr_checks(tmp_path: Path) -> None:
    ca_key, ca = pki.create_ca()
    key = pki.new_key()
    cert, did = pki.sign_csr(ca_key, ca, pki.csr_pem(pki.make_csr(key, B)))
    assert did == B and pki.device_id_of(cert) == B
    # a certificate from another CA does not verify
    other_key, other = pki.create_ca()
    with pytest.raises(KeyMaterialError):
        pki.verify_device_cert(other, cert)
    with pytest.raises(KeyMaterialError):
        pki.verify_csr(b"-----BEGIN CERTIFICATE REQUEST-----\ngarbage\n-----END CERTIFICATE REQUEST-----\n")
    with pytest.raises(KeyMaterialError):
        pki.make_csr(key, "not-an-id")


def test_copied_home_is_detected(tmp_path: Path) -> None:
    pki.init_mesh(tmp_path, A)
    with pytest.raises(KeyMaterialError, match="names device"):
        pki.load_material(tmp_path, expect_device_id=B)


# -- codes ---------------------------------------------------------------------------------------


def test_code_format_and_parse() -> None:
    c = pairing.new_code("10.0.0.1:47475")
    text = str(c)
    assert text.startswith("mesh-") and text.endswith("@10.0.0.1:47475")
    p = pairing.parse_code("  " + text.upper().replace("@10.0.0.1:47475", "@10.0.0.1:47475") + " ")
    assert p.password == c.password and p.address == "10.0.0.1:47475"
    for bad in ("", "mesh-abcd", "mesh-abcd-efgh-ijkl-mno1", "wormhole-abcd-efgh-ijkl-mnop"):
        with pytest.raises(PairingError, match="not an invite code"):
            pairing.parse_code(bad)


def test_rate_limiter() -> None:
    r = pairing.RateLimiter(per_peer=2, total=3, window=60)
    assert r.allow("x") and r.allow("x") and not r.allow("x")
    assert r.allow("y") and not r.allow("z")


# -- pairing over real gRPC ----------------------------------------------------------------------


def _run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


async def _pairing(home: Path, material: pki.MeshMaterial, revoked=None):  # type: ignore[no-untyped-def]
    return await pairing.start_pairing_server(home, material, "127.0.0.1:0", revoked)


def test_invite_join_happy_path(tmp_path: Path) -> None:
    inviter = pki.init_mesh(tmp_path / "a", A)

    async def go() -> pki.MeshMaterial:
        srv, port = await _pairing(tmp_path / "a", inviter)
        try:
            store = pairing.InviteStore(tmp_path / "a")
            code, _ = store.create(60)
            m = await pairing.join_async(tmp_path / "b", code, f"127.0.0.1:{port}", B)
            assert store.state(code.code_id) == "used"
            return m
        finally:
            await srv.stop(0)

    m = _run(go())
    assert m.device_id == B and m.fingerprint == inviter.fingerprint and not m.is_ca_holder
    assert pki.load_material(tmp_path / "b").ca_cert_pem == inviter.ca_cert_pem
    assert os.stat(pki.tls_dir(tmp_path / "b") / pki.DEVICE_KEY).st_mode & 0o777 == 0o600


def test_invite_code_is_stored_hashed(tmp_path: Path) -> None:
    pki.init_mesh(tmp_path, A)
    store = pairing.InviteStore(tmp_path)
    code, _ = store.create(60)
    raw = (pki.tls_dir(tmp_path) / pairing.INVITES_DB).read_bytes()
    assert code.secret.encode() not in raw and code.text.encode() not in raw
    assert os.stat(pki.tls_dir(tmp_path) / pairing.INVITES_DB).st_mode & 0o777 == 0o600


def test_wrong_code_fails_clearly_and_burns_the_invite(tmp_path: Path) -> None:
    inviter = pki.init_mesh(tmp_path / "a", A)

    async def go() -> None:
        srv, port = await _pairing(tmp_path / "a", inviter)
        try:
            store = pairing.InviteStore(tmp_path / "a")
            code, _ = store.create(60)
            guess = pairing.InviteCode(code.code_id, "aaaa-aaaa-aaaa")
            with pytest.raises(PairingError, match="wrong invite code"):
                await pairing.join_async(tmp_path / "b", guess, f"127.0.0.1:{port}", B)
            assert store.state(code.code_id) == "burned"
            # the right code no longer works either: one guess per code
            with pytest.raises(PairingError, match="burned"):
                await pairing.join_async(tmp_path / "b", code, f"127.0.0.1:{port}", B)
        finally:
            await srv.stop(0)

    _run(go())
    assert not pki.has_material(tmp_path / "b")


def test_expired_code(tmp_path: Path) -> None:
    inviter = pki.init_mesh(tmp_path / "a", A)

    async def go() -> None:
        srv, port = await _pairing(tmp_path / "a", inviter)
        try:
            store = pairing.InviteStore(tmp_path / "a")
            code, _ = store.create(0.2)
            await asyncio.sleep(0.4)
            with pytest.raises(PairingError, match="expired"):
                await pairing.join_async(tmp_path / "b", code, f"127.0.0.1:{port}", B)
        finally:
            await srv.stop(0)

    _run(go())


def test_reused_code(tmp_path: Path) -> None:
    inviter = pki.init_mesh(tmp_path / "a", A)

    async def go() -> None:
        srv, port = await _pairing(tmp_path / "a", inviter)
        try:
            store = pairing.InviteStore(tmp_path / "a")
            code, _ = store.create(60)
            await pairing.join_async(tmp_path / "b", code, f"127.0.0.1:{port}", B)
            with pytest.raises(PairingError, match="already been used"):
                await pairing.join_async(tmp_path / "c", code, f"127.0.0.1:{port}", C)
            with pytest.raises(PairingError, match="unknown invite code"):
                await pairing.join_async(tmp_path / "c", pairing.new_code(), f"127.0.0.1:{port}", C)
        finally:
            await srv.stop(0)

    _run(go())


def test_forgotten_device_cannot_rejoin(tmp_path: Path) -> None:
    inviter = pki.init_mesh(tmp_path / "a", A)

    async def go() -> None:
        srv, port = await _pairing(tmp_path / "a", inviter, revoked=lambda: {B})
        try:
            code, _ = pairing.InviteStore(tmp_path / "a").create(60)
            with pytest.raises(PairingError, match="removed from this mesh"):
                await pairing.join_async(tmp_path / "b", code, f"127.0.0.1:{port}", B)
        finally:
            await srv.stop(0)

    _run(go())


def test_pairing_rate_limit(tmp_path: Path) -> None:
    inviter = pki.init_mesh(tmp_path / "a", A)

    async def go() -> None:
        srv = grpc.aio.server()
        from meshd.v1 import pairing_pb2_grpc

        pairing_pb2_grpc.add_PairingServicer_to_server(
            pairing.PairingServicer(tmp_path / "a", inviter, limiter=pairing.RateLimiter(per_peer=2)), srv)
        port = srv.add_insecure_port("127.0.0.1:0")
        await srv.start()
        try:
            for _ in range(2):
                with pytest.raises(PairingError, match="unknown invite code"):
                    await pairing.join_async(tmp_path / "b", pairing.new_code(), f"127.0.0.1:{port}", B)
            with pytest.raises(PairingError, match="too many join attempts"):
                await pairing.join_async(tmp_path / "b", pairing.new_code(), f"127.0.0.1:{port}", B)
        finally:
            await srv.stop(0)

    _run(go())


def test_meshctl_init_invite_join(tmp_path: Path) -> None:
    """The CLI end to end: init, invite (code = last line), join against a live pairing server."""
    env = dict(os.environ)
    env.pop("MESHD_HOME", None)

    def ctl(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "meshctl", "--home", str(home), *args],
                              capture_output=True, text=True, env=env, timeout=60, cwd=tmp_path)

    a, b = tmp_path / "a", tmp_path / "b"
    r = ctl(a, "init")
    assert r.returncode == 0, r.stderr
    r = ctl(a, "init")
    assert r.returncode == 1 and "refusing to replace" in r.stderr
    material = pki.load_material(a)

    async def go() -> None:
        srv, port = await _pairing(a, material)
        try:
            r = await asyncio.to_thread(ctl, a, "invite", "--ttl", "2m", "--address", f"127.0.0.1:{port}")
            assert r.returncode == 0, r.stderr
            code = r.stdout.strip().splitlines()[-1]
            assert code.startswith("mesh-") and code.endswith(f"@127.0.0.1:{port}")
            r = await asyncio.to_thread(ctl, b, "join", code)
            assert r.returncode == 0, r.stderr
            assert "joined mesh " + material.fingerprint in r.stdout
            r = await asyncio.to_thread(ctl, tmp_path / "c", "join", code)
            assert r.returncode == 1 and "already been used" in r.stderr
        finally:
            await srv.stop(0)

    _run(go())
    r = ctl(b, "invite")
    assert r.returncode == 1 and "only the machine that ran `meshctl init`" in r.stderr


# -- mutual TLS ----------------------------------------------------------------------------------


def _ident(b: bytes) -> bytes:
    return b


class _Echo:
    """A stand-in peer service: Say (unary) answers the caller's device id; Stream never ends."""

    def __init__(self) -> None:
        self.streaming = asyncio.Event()

    async def say(self, req: bytes, ctx) -> bytes:  # type: ignore[no-untyped-def]
        return (tls.peer_device_id(ctx) or "?").encode()

    async def stream(self, req: bytes, ctx):  # type: ignore[no-untyped-def]
        self.streaming.set()
        while True:
            yield b"tick"
            await asyncio.sleep(0.05)


async def _peer_server(m: pki.MeshMaterial, revoked: tls.ForgottenIds | None = None):  # type: ignore[no-untyped-def]
    revoked = revoked or tls.ForgottenIds()
    icpt = tls.PeerAuthInterceptor(revoked)
    echo = _Echo()
    srv = grpc.aio.server(interceptors=[icpt])
    srv.add_generic_rpc_handlers([grpc.method_handlers_generic_handler("meshd.test.Echo", {
        "Say": grpc.unary_unary_rpc_method_handler(echo.say, _ident, _ident),
        "Stream": grpc.unary_stream_rpc_method_handler(echo.stream, _ident, _ident),
    })])
    port = srv.add_secure_port("127.0.0.1:0", tls.server_credentials(m))
    await srv.start()
    return srv, port, icpt, echo


async def _say(ch: grpc.aio.Channel) -> str:
    r = await ch.unary_unary(ECHO, request_serializer=_ident, response_deserializer=_ident)(b"", timeout=5)
    return r.decode()


def test_member_client_is_accepted_and_identified(tmp_path: Path) -> None:
    mesh = make_mesh([tmp_path / "a", tmp_path / "b"], [A, B])

    async def go() -> None:
        srv, port, _i, _e = await _peer_server(mesh.material[0])
        try:
            async with tls.secure_channel(f"127.0.0.1:{port}", mesh.material[1], peer_id=A) as ch:
                assert await _say(ch) == B
            # unknown peer id: any member of this mesh is acceptable
            async with tls.secure_channel(f"127.0.0.1:{port}", mesh.material[1]) as ch:
                assert await _say(ch) == B
            # expecting another device id than the server's: refused by the client
            async with tls.secure_channel(f"127.0.0.1:{port}", mesh.material[1], peer_id=C) as ch:
                with pytest.raises(grpc.aio.AioRpcError) as e:
                    await _say(ch)
                assert e.value.code() == grpc.StatusCode.UNAVAILABLE
        finally:
            await srv.stop(0)

    _run(go())


def test_plaintext_client_is_refused(tmp_path: Path) -> None:
    mesh = make_mesh([tmp_path / "a"], [A])

    async def go() -> None:
        srv, port, _i, _e = await _peer_server(mesh.material[0])
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as ch:
                with pytest.raises(grpc.aio.AioRpcError) as e:
                    await _say(ch)
                assert e.value.code() == grpc.StatusCode.UNAVAILABLE
        finally:
            await srv.stop(0)

    _run(go())


def test_foreign_ca_and_certless_clients_are_refused(tmp_path: Path) -> None:
    mesh = make_mesh([tmp_path / "a"], [A])
    foreign = foreign_material(tmp_path / "x", B)

    async def go() -> None:
        srv, port, _i, _e = await _peer_server(mesh.material[0])
        try:
            # a foreign-CA client that even trusts our CA for the server side
            creds = grpc.ssl_channel_credentials(mesh.ca_cert_pem, foreign.device_key_pem, foreign.device_cert_pem)
            async with grpc.aio.secure_channel(f"127.0.0.1:{port}", creds, tls.channel_options(A)) as ch:
                with pytest.raises(grpc.aio.AioRpcError) as e:
                    await _say(ch)
                assert e.value.code() == grpc.StatusCode.UNAVAILABLE
            # no client certificate at all
            creds = grpc.ssl_channel_credentials(mesh.ca_cert_pem)
            async with grpc.aio.secure_channel(f"127.0.0.1:{port}", creds, tls.channel_options(A)) as ch:
                with pytest.raises(grpc.aio.AioRpcError) as e:
                    await _say(ch)
                assert e.value.code() == grpc.StatusCode.UNAVAILABLE
        finally:
            await srv.stop(0)

    _run(go())


def test_revoked_client_is_refused_and_its_streams_closed(tmp_path: Path) -> None:
    mesh = make_mesh([tmp_path / "a", tmp_path / "b", tmp_path / "c"], [A, B, C])
    revoked = tls.ForgottenIds(ttl=0)

    async def go() -> None:
        srv, port, icpt, echo = await _peer_server(mesh.material[0], revoked)
        try:
            async with tls.secure_channel(f"127.0.0.1:{port}", mesh.material[1], A) as ch:
                call = ch.unary_stream(STREAM, request_serializer=_ident, response_deserializer=_ident)(b"")
                assert await call.read() == b"tick"
                assert icpt.open_calls(B) == 1
                revoked.add(B)
                assert icpt.cut_revoked() == 1
                with pytest.raises(grpc.aio.AioRpcError) as e:
                    while True:
                        r = await asyncio.wait_for(call.read(), 5)
                        if r is grpc.aio.EOF:
                            break
                assert e.value.code() == grpc.StatusCode.PERMISSION_DENIED
                with pytest.raises(grpc.aio.AioRpcError) as e:
                    await _say(ch)
                assert e.value.code() == grpc.StatusCode.PERMISSION_DENIED
                assert "removed from this mesh" in (e.value.details() or "")
            # other members are unaffected
            async with tls.secure_channel(f"127.0.0.1:{port}", mesh.material[2], A) as ch:
                assert await _say(ch) == C
        finally:
            await srv.stop(0)

    _run(go())


def test_revocation_comes_from_forget_records(tmp_path: Path) -> None:
    db = tmp_path / "meshd.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE log(origin TEXT, epoch INTEGER, seq INTEGER, kind TEXT, body BLOB)")
    conn.execute("INSERT INTO log VALUES(?,1,1,'forget',?)", (A, b'{"device_id": "%s"}' % B.encode()))
    conn.execute("INSERT INTO log VALUES(?,1,2,'usage',?)", (A, b'{"device_id": "%s"}' % C.encode()))
    conn.commit()
    ids = tls.ForgottenIds(db, ttl=0)
    assert ids() == {B}
    conn.execute("INSERT INTO log VALUES(?,1,3,'forget',?)", (A, b'{"device": "%s", "purge": true}' % D.encode()))
    conn.commit()
    assert ids() == {B, D}


def test_certless_client_may_only_call_pairing(tmp_path: Path) -> None:
    """The pairing listener hosts nothing else; the peer port refuses certless TLS and plaintext."""
    mesh = make_mesh([tmp_path / "a"], [A])

    async def go() -> None:
        psrv, pport = await _pairing(tmp_path / "a", mesh.material[0])
        srv, port, _i, _e = await _peer_server(mesh.material[0])
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{pport}") as ch:
                with pytest.raises(grpc.aio.AioRpcError) as e:
                    await _say(ch)
                assert e.value.code() == grpc.StatusCode.UNIMPLEMENTED
            with pytest.raises(PairingError, match="unknown invite code"):
                await pairing.join_async(tmp_path / "n", pairing.new_code(), f"127.0.0.1:{pport}", B)
        finally:
            await psrv.stop(0)
            await srv.stop(0)

    _run(go())


def test_interceptor_refuses_unauthenticated_on_a_non_tls_server(tmp_path: Path) -> None:
    """Second line of defence: even on a server built without mTLS the interceptor says UNAUTHENTICATED."""

    async def go() -> None:
        icpt = tls.PeerAuthInterceptor(lambda: set())
        srv = grpc.aio.server(interceptors=[icpt])
        echo = _Echo()
        srv.add_generic_rpc_handlers([grpc.method_handlers_generic_handler("meshd.test.Echo", {
            "Say": grpc.unary_unary_rpc_method_handler(echo.say, _ident, _ident)})])
        port = srv.add_insecure_port("127.0.0.1:0")
        await srv.start()
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as ch:
                with pytest.raises(grpc.aio.AioRpcError) as e:
                    await _say(ch)
                assert e.value.code() == grpc.StatusCode.UNAUTHENTICATED
        finally:
            await srv.stop(0)

    _run(go())
