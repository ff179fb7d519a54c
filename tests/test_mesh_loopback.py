"""Real `meshd run` daemons on 127.0.0.1 (static peers, no mDNS), each with its own data home and
Claude folder: convergence, relay, SIGKILL mid-sync, a deleted database, forget. Plus mDNS
discovery inside a private network namespace (`unshare -n`, multicast on lo)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from tests.meshkit import Daemon, append_claude_lines, build_replica, log_counts, provision, usage_count

TOKENS = ("inputTokens", "outputTokens", "cacheCreationTokens", "cacheReadTokens", "totalTokens")
SYNC = 1.0


def free_port() -> int:
    """A free port whose successor is free too (a CA holder serves pairing on port + 1)."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            p = s.getsockname()[1]
        if p < 65000:
            with socket.socket() as s2:
                try:
                    s2.bind(("127.0.0.1", p + 1))
                    return p
                except OSError:
                    continue


def wait_for(fn: Callable[[], object], timeout: float, what: str, interval: float = 0.1) -> object:
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class Mesh:
    """Daemons on loopback, one mesh CA, ports chosen up front."""

    def __init__(self, root: Path, names: str) -> None:
        self.root = root
        self.ports = {n: free_port() for n in names}
        provision([self.home(n) for n in names])
        self.daemons: dict[str, Daemon] = {}

    def home(self, n: str) -> Path:
        return self.root / f"home-{n}"

    def folder(self, n: str) -> Path:
        return self.root / f"claude-{n}"

    def addr(self, n: str) -> str:
        return f"127.0.0.1:{self.ports[n]}"

    def start(self, n: str, peers: Sequence[str] = ()) -> Daemon:
        (self.folder(n) / "projects").mkdir(parents=True, exist_ok=True)
        d = self.daemons.get(n) or Daemon(n, self.home(n), [self.folder(n)], self.addr(n),
                                          peers=[self.addr(p) for p in peers], mdns=False, sync_interval=SYNC)
        self.daemons[n] = d
        return d.start()

    def stop_all(self) -> None:
        for d in self.daemons.values():
            d.stop(signal.SIGKILL if not d.alive() else signal.SIGTERM, timeout=10)


@pytest.fixture
def mesh(tmp_path: Path):  # type: ignore[no-untyped-def]
    made: list[Mesh] = []

    def make(names: str) -> Mesh:
        m = Mesh(tmp_path, names)
        made.append(m)
        return m

    yield make
    for m in made:
        m.stop_all()


def history(m: Mesh, names: str, n: int = 12) -> None:
    """A few sessions per folder; one session is copied to a second folder (cross-device dedup)."""
    for i, k in enumerate(names):
        append_claude_lines(m.folder(k), n, seed=10 + i, tag=k)
    src = m.folder(names[0]) / "projects" / "-home-u-live" / f"live-{names[0]}.jsonl"
    dst = m.folder(names[1]) / "projects" / "-home-u-live" / f"live-{names[0]}.jsonl"
    shutil.copy(src, dst)


def converged(ds: Sequence[Daemon], n_logs: int | None = None) -> dict | None:
    vs = [d.vector() for d in ds]
    if not vs[0] or any(v != vs[0] for v in vs[1:]):
        return None
    if {d.device_id for d in ds} - {o for o, _ in vs[0]}:
        return None
    if n_logs is not None and len(vs[0]) != n_logs:
        return None
    return vs[0]


def reference(folders: Sequence[Path], scratch: Path) -> dict:
    env = dict(os.environ, CLAUDE_CONFIG_DIR=",".join(map(str, folders)), TZ="UTC",
               MESHD_HOME=str(scratch / f"ref-{time.monotonic_ns()}"))
    p = subprocess.run([sys.executable, "-m", "meshctl", "daily", "--json"], env=env, capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def same(a: dict, b: dict) -> bool:
    return all(a["totals"][f] == b["totals"][f] for f in TOKENS) and \
        abs(a["totals"]["totalCost"] - b["totals"]["totalCost"]) < 1e-6 and \
        [r["date"] for r in a["daily"]] == [r["date"] for r in b["daily"]]


def wait_exact(ds: Sequence[Daemon], folders: Sequence[Path], scratch: Path, timeout: float = 15) -> None:
    ref = reference(folders, scratch)
    wait_for(lambda: all(same(d.json("daily"), ref) for d in ds), timeout,
             f"daily --json of {[d.name for d in ds]} to equal the union of {len(folders)} folders", 0.3)


def own_seq(d: Daemon) -> int:
    return max((s for (o, _e), s in d.vector().items() if o == d.device_id), default=0)


def test_three_daemons_converge_and_new_lines_spread_fast(mesh, tmp_path: Path) -> None:
    m = mesh("abc")
    history(m, "abc")
    ds = [m.start("a", "bc"), m.start("b", "ac"), m.start("c", "ab")]
    assert len({d.device_id for d in ds}) == 3
    wait_for(lambda: converged(ds, 3), 15, "3 daemons to converge")
    if sys.platform.startswith("linux"):  # ingest wakes on inotify here, the poll is only a safety net
        assert all("watching" in "".join(d.lines) for d in ds), ds[0].stderr_tail()
    wait_exact(ds, [m.folder(k) for k in "abc"], tmp_path)
    before = own_seq(ds[1])
    t0 = time.monotonic()
    append_claude_lines(m.folder("b"), 5, seed=77, tag="late")
    wait_for(lambda: own_seq(ds[1]) >= before + 5 and converged(ds, 3), 10, "the new lines on every replica", 0.02)
    assert time.monotonic() - t0 < 5
    out = json.loads(ds[0].meshctl("devices", "--json").stdout)
    states = {r["deviceId"]: r["state"] for r in out["devices"]}
    assert out["daemon"] and states[ds[0].device_id] == "self"
    assert states[ds[1].device_id] == states[ds[2].device_id] == "online"
    res = json.loads(ds[0].meshctl("sync", "--json").stdout)
    assert len(res["peers"]) == 2 and all(p["ok"] for p in res["peers"]), res


def test_relay_chain_converges(mesh, tmp_path: Path) -> None:
    m = mesh("abc")
    history(m, "abc")
    b = m.start("b")  # b dials nobody; a and c dial only b, and never meet
    a, c = m.start("a", "b"), m.start("c", "b")
    wait_for(lambda: converged([a, b, c], 3), 20, "the relay chain a-b-c to converge")
    wait_exact([a, b, c], [m.folder(k) for k in "abc"], tmp_path)


def test_sigkill_mid_sync_nothing_lost_or_doubled(mesh, tmp_path: Path) -> None:
    n = 60_000
    m = mesh("ab")
    dev_a, ep_a = build_replica(m.home("a"), n, seed=5, tag="big")
    a = m.start("a")
    b = m.start("b", "a")
    held = lambda: b.vector().get((dev_a, ep_a), 0)  # noqa: E731
    total = own_seq(a)
    deadline = time.monotonic() + 30
    while not 0 < held() < total and time.monotonic() < deadline:
        if held() >= total:
            pytest.skip("the pull finished before it could be interrupted")
        time.sleep(0.005)
    b.send(signal.SIGKILL)
    b.proc.wait(10)  # type: ignore[union-attr]
    assert held() < total
    b.start()
    wait_for(lambda: converged([a, b]), 30, "a and b to converge after the kill")
    for d in (a, b):
        for key, (cnt, lo, hi) in log_counts(d.home).items():
            assert (cnt, lo) == (hi, 1), f"{d.name}: log {key} holds {cnt} records for seqs {lo}..{hi}"
    assert usage_count(b.home) == usage_count(a.home) == n
    assert same(a.json("daily"), b.json("daily"))


def test_deleted_database_new_epoch_totals_exact(mesh, tmp_path: Path) -> None:
    m = mesh("abc")
    history(m, "abc")
    ds = [m.start("a", "bc"), m.start("b", "ac"), m.start("c", "ab")]
    v = wait_for(lambda: converged(ds, 3), 15, "3 daemons to converge")
    c = ds[2]
    old = {e for (o, e) in v if o == c.device_id}  # type: ignore[union-attr]
    assert c.stop() == 0
    for f in c.home.glob("meshd.db*"):
        f.unlink()
    c.start()
    wait_for(lambda: converged(ds, 4), 20, "c's new epoch to reach everyone (4 logs)")
    assert old < {e for (o, e) in ds[0].vector() if o == c.device_id}
    wait_exact(ds, [m.folder(k) for k in "abc"], tmp_path)


def _log_bodies(home: Path, origin: str, epoch: int) -> list[bytes]:
    import sqlite3
    conn = sqlite3.connect(f"file:{home / 'meshd.db'}?mode=ro", uri=True)
    try:
        return [bytes(b) for (b,) in conn.execute("SELECT body FROM log WHERE origin=? AND epoch=? ORDER BY seq",
                                                  (origin, epoch))]
    finally:
        conn.close()


@pytest.mark.parametrize("who_dials", ["c dials them", "they dial c"])
def test_restored_backup_starts_a_new_epoch_and_never_reuses_a_seq(mesh, tmp_path: Path, who_dials: str) -> None:
    """DESIGN §4: c's database is restored from a backup while a and b hold more of c's log than
    the backup does. The restarted daemon must learn that before it ingests, start a new epoch,
    get the old epoch's tail back unchanged, and keep the totals exact. In the second case the
    restored c knows no peer to dial (a backup without peers, no static peers): it learns it from
    a and b's calls, and its first ingest waits for that."""
    m = mesh("abc")
    history(m, "abc")
    ds = [m.start("a", "bc"), m.start("b", "ac"), m.start("c", "ab")]
    a, b, c = ds
    # Converged vectors alone can predate c's first ingest (it waits up to FIRST_ROUND_CAP for a
    # peer): wait until c's 12 history lines (plus its device record) are in its own log too.
    wait_for(lambda: own_seq(c) >= 13 and converged(ds, 3), 15, "3 daemons to converge with c's history")
    assert c.stop() == 0
    backup = tmp_path / "backup"
    backup.mkdir()
    for f in c.home.glob("meshd.db*"):
        shutil.copy(f, backup / f.name)
    c.start()
    before = own_seq(c)
    append_claude_lines(m.folder("c"), 7, seed=321, tag="after-backup")
    wait_for(lambda: own_seq(c) >= before + 7 and converged(ds, 3), 15, "c's new lines on every replica")
    old_epoch = next(e for (o, e) in c.vector() if o == c.device_id)
    reference_log = _log_bodies(a.home, c.device_id, old_epoch)
    assert len(reference_log) == before + 7
    assert c.stop() == 0
    for f in c.home.glob("meshd.db*"):
        f.unlink()
    for f in backup.iterdir():
        shutil.copy(f, c.home / f.name)  # the restore: c's own log is 7 records behind a's and b's copies
    if who_dials == "they dial c":
        import sqlite3
        conn = sqlite3.connect(c.home / "meshd.db")
        conn.execute("DELETE FROM peers")
        conn.commit()
        conn.close()
        c.peers = []
    append_claude_lines(m.folder("c"), 3, seed=654, tag="after-restore")
    c.start()
    wait_for(lambda: converged(ds, 4), 20, "c's new epoch to reach everyone (4 logs)")
    new_epoch = next(e for (o, e) in c.vector() if o == c.device_id and e != old_epoch)
    assert "restored backup detected" in "".join(c.lines)
    for d in ds:  # the old epoch is the same log everywhere: no seq of it was assigned twice
        assert _log_bodies(d.home, c.device_id, old_epoch) == reference_log, d.name
        assert _log_bodies(d.home, c.device_id, new_epoch)
    wait_exact(ds, [m.folder(k) for k in "abc"], tmp_path)


def test_forgotten_device_stays_forgotten(mesh, tmp_path: Path) -> None:
    m = mesh("abc")
    history(m, "abc")
    ds = [m.start("a", "bc"), m.start("b", "ac"), m.start("c", "ab")]
    a, b, c = ds
    wait_for(lambda: converged(ds, 3), 15, "3 daemons to converge")
    a.meshctl("forget", c.device_id, "--yes")
    wait_exact([a, b], [m.folder("a"), m.folder("b")], tmp_path)
    append_claude_lines(m.folder("c"), 6, seed=99, tag="after")
    c.meshctl("sync", check=False)
    b.stop()
    b.start()  # b restarts: its known peers include c's address, which it must not count again
    time.sleep(3 * SYNC)
    wait_exact([a, b], [m.folder("a"), m.folder("b")], tmp_path, timeout=5)
    for d in (a, b):
        rows = json.loads(d.meshctl("devices", "--json").stdout)["devices"]
        assert [r["state"] for r in rows if r["deviceId"] == c.device_id] == ["forgotten"]
    assert "forgotten" in a.meshctl("forget", c.device_id, "--yes").stdout


def test_sync_without_daemon_is_one_clear_line(tmp_path: Path) -> None:
    env = dict(os.environ, MESHD_HOME=str(tmp_path / "h"))
    p = subprocess.run([sys.executable, "-m", "meshctl", "sync"], env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode != 0 and p.stderr.count("\n") == 1 and "meshd run" in p.stderr, p.stderr


# -- mDNS in a private network namespace ------------------------------------------------------------

NETNS_FLAG = "MESHD_TEST_IN_NETNS"


def _unshare_reason() -> str | None:
    if not sys.platform.startswith("linux") or shutil.which("unshare") is None or shutil.which("ip") is None:
        return "needs Linux with unshare and ip (util-linux, iproute2)"
    p = subprocess.run(["unshare", "-rn", "true"] if os.geteuid() else ["unshare", "-n", "true"],
                       capture_output=True, text=True)
    if p.returncode != 0:
        return f"cannot create a network namespace here: {p.stderr.strip()[:200]}"
    return None


def test_mdns_discovery_in_private_netns(tmp_path: Path) -> None:
    if os.environ.get(NETNS_FLAG):
        pytest.skip("already inside the namespace")
    reason = _unshare_reason()
    if reason:
        pytest.skip(reason)
    script = ("ip link set lo up && ip link set lo multicast on && ip route add 224.0.0.0/4 dev lo && "
              f"exec {sys.executable} -m pytest -q -x -p no:cacheprovider {__file__}::inner_mdns_discovery "
              f"--basetemp {tmp_path / 'inner'}")
    env = dict(os.environ, **{NETNS_FLAG: "1"})
    argv = ["unshare", "-n", "bash", "-c", script] if os.geteuid() == 0 else ["unshare", "-rn", "bash", "-c", script]
    p = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=90, cwd=Path(__file__).parents[1])
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-2000:]
    assert "1 passed" in p.stdout, p.stdout[-2000:]


def inner_mdns_discovery(tmp_path: Path) -> None:
    """Run by the test above inside the namespace: two daemons find each other by mDNS only."""
    if not os.environ.get(NETNS_FLAG):
        pytest.skip("runs only inside a private network namespace")
    m = Mesh(tmp_path, "ab")
    history(m, "ab", n=5)
    ds = []
    try:
        for k in "ab":
            (m.folder(k) / "projects").mkdir(parents=True, exist_ok=True)
            d = Daemon(k, m.home(k), [m.folder(k)], m.addr(k), mdns=True, sync_interval=SYNC)
            m.daemons[k] = d
            ds.append(d.start())
        wait_for(lambda: converged(ds, 2), 20, "two daemons to find each other over mDNS and converge")
        rows = json.loads(ds[0].meshctl("devices", "--json").stdout)["devices"]
        assert {r["state"] for r in rows if not r["self"]} == {"online"}
    finally:
        m.stop_all()


inner_mdns_discovery.__test__ = True  # type: ignore[attr-defined]  # collected only when named explicitly


def test_another_device_at_a_static_address_is_learnt_again(mesh, tmp_path: Path) -> None:
    """a dials b's address (static) pinned to b's id; b goes away and device d serves that address
    now: a's pinned dial fails the TLS name check, a learns d's id and syncs with d."""
    m = mesh("abd")
    history(m, "ab")
    a, b = m.start("a", "b"), m.start("b")
    wait_for(lambda: converged([a, b], 2), 15, "a and b to converge")
    assert b.stop() == 0
    (m.folder("d") / "projects").mkdir(parents=True, exist_ok=True)
    append_claude_lines(m.folder("d"), 4, seed=31, tag="d")
    d = Daemon("d", m.home("d"), [m.folder("d")], m.addr("b"), mdns=False, sync_interval=SYNC)
    m.daemons["d"] = d
    d.start()
    wait_for(lambda: d.device_id in {o for o, _ in a.vector()} and converged([a, d]), 30,
             "a to sync with the device that now answers at b's address")
