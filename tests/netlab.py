"""A network-namespace lab for multi-host tests: N "hosts" on one bridge, with fault injection.

Topology (see shared/reference/netns-lab.md §1), nothing of it in the root namespace:

    <P>-br   bridge namespace: br0 (no STP, no multicast snooping) and one port p-<h> per host
    <P>-<h>  one namespace per host: lo, eth0 = 10.<x>.<y>.<i+2>/24, route 224.0.0.0/4 dev eth0

`P` is a short prefix unique per lab (per process and per test), so concurrent runs never clash.
Commands run inside a host with `ip netns exec` (`Lab.run`, `Lab.spawn`). Never address a lab
host from the test process itself: the test process lives in the root namespace, whose default
route leaves the machine.

Faults: `cut(h)`/`heal(h)` set h's bridge port down/up (the host sees NO-CARRIER and keeps its
routes); `partition(a, b)`/`unpartition(a, b)` drop everything a and b send each other, unicast
and multicast, with tc filters on the bridge ports' egress that redirect to a down ifb device
(this kernel has no netem and no gact; nftables is used instead when `nft` is installed).

`close()` kills every process the lab started (by PID, then anything else still inside its
namespaces, by PID), then deletes its namespaces by exact name. Each lab also leaves a small
record under STATE_DIR; a later lab whose owner process is dead is cleaned up on the next run,
so even a SIGKILLed pytest leaks nothing for long.

Fixture `netlab`: a factory `netlab(n_hosts) -> Lab`, every lab closed at teardown (pass or fail).
Tests that use it skip with a reason when not root, when `ip` is missing, or when namespaces
cannot be created.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import pytest

STATE_DIR = Path(os.environ.get("MESHD_NETLAB_STATE", "/tmp/meshd-netlab"))
HOST_NAMES = "abcdefghijklmnopqrstuvwxyz"

_available: str | None | bool = False  # False: not probed yet; None: available; str: skip reason


def _ip(*args: str, check: bool = True, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    p = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: rc={p.returncode}: {p.stderr.strip()}")
    return p


def _sh(argv: Sequence[str], check: bool = True, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    p = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: rc={p.returncode}: {p.stderr.strip()}")
    return p


def unavailable_reason() -> str | None:
    """Why network namespaces cannot be used here, or None when they can (probed once)."""
    global _available
    if _available is not False:
        return _available  # type: ignore[return-value]
    reason: str | None = None
    if not sys.platform.startswith("linux"):
        reason = "network namespaces need Linux"
    elif os.geteuid() != 0:
        reason = "network namespaces need root (or run under tools/isolated.sh)"
    elif shutil.which("ip") is None:
        reason = "`ip` (iproute2) is not installed: apt-get install -y iproute2"
    else:
        name = f"nlprobe{os.getpid()}"
        try:
            p = _ip("netns", "add", name, check=False)
            if p.returncode != 0:
                reason = f"cannot create a network namespace: {p.stderr.strip()}"
            else:
                q = _ip("-n", name, "link", "add", "pr0", "type", "bridge", check=False)
                if q.returncode != 0:
                    reason = f"cannot create a bridge in a namespace: {q.stderr.strip()}"
        except (OSError, subprocess.SubprocessError) as e:
            reason = f"cannot create a network namespace: {e}"
        finally:
            _ip("netns", "del", name, check=False)
    _available = reason
    return reason


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _ns_pids(ns: str) -> list[int]:
    p = _ip("netns", "pids", ns, check=False)
    return [int(x) for x in p.stdout.split() if x.strip().isdigit()]


def _kill_ns(namespaces: Sequence[str]) -> None:
    """SIGKILL every process still inside these namespaces (by PID), then delete them by name."""
    for _ in range(3):
        pids = [pid for ns in namespaces for pid in _ns_pids(ns)]
        if not pids:
            break
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.05)
    for ns in namespaces:
        _ip("netns", "del", ns, check=False)


def sweep_stale() -> None:
    """Clean up labs whose owner process died without closing them (a SIGKILLed test run)."""
    if not STATE_DIR.is_dir():
        return
    for f in STATE_DIR.glob("*.json"):
        try:
            rec = json.loads(f.read_text())
            owner = int(rec["owner"])
            if _alive(owner) and rec.get("owner_start") == _start_time(owner):
                continue
            _kill_ns(list(rec["namespaces"]))
            f.unlink(missing_ok=True)
        except (OSError, ValueError, KeyError, TypeError):
            continue


def _start_time(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


class Lab:
    """N hosts on one bridge, each its own network namespace. Use as a context manager."""

    def __init__(self, n_hosts: int, prefix: str | None = None, *, subnet: str | None = None) -> None:
        if not 1 <= n_hosts <= len(HOST_NAMES):
            raise ValueError("1..26 hosts")
        # Interface names are at most 15 characters: the longest one made here is "v-<P>-<h>"
        # (created straight into the host namespace, then renamed eth0), so P has at most 11.
        self.prefix = prefix or f"nl{secrets.token_hex(3)}"
        if len(self.prefix) > 11 or not self.prefix.replace("-", "").isalnum():
            raise ValueError(f"bad lab prefix {self.prefix!r}")
        self.subnet = subnet or f"10.{secrets.randbelow(200) + 20}.{secrets.randbelow(250) + 1}"
        self.hosts = list(HOST_NAMES[:n_hosts])
        self.br = f"{self.prefix}-br"
        self.procs: list[subprocess.Popen[bytes] | subprocess.Popen[str]] = []
        self._parts: set[frozenset[str]] = set()
        self._cut: set[str] = set()
        self._closed = False
        self._state = STATE_DIR / f"{self.prefix}.json"
        self.use_nft = shutil.which("nft") is not None and os.environ.get("MESHD_NETLAB_NFT", "1") != "0"
        sweep_stale()
        self._record()
        try:
            self._build()
        except BaseException:
            self.close()
            raise

    # -- topology -------------------------------------------------------------------------

    @property
    def namespaces(self) -> list[str]:
        return [self.ns(h) for h in self.hosts] + [self.br]

    def ns(self, host: str) -> str:
        return f"{self.prefix}-{host}"

    def ip(self, host: str) -> str:
        return f"{self.subnet}.{self.hosts.index(host) + 2}"

    def addr(self, host: str, port: int) -> str:
        return f"{self.ip(host)}:{port}"

    def _record(self) -> None:
        STATE_DIR.mkdir(parents=True, exist_ok=True)
        rec = {"owner": os.getpid(), "owner_start": _start_time(os.getpid()), "namespaces": self.namespaces}
        self._state.write_text(json.dumps(rec))

    def _build(self) -> None:
        br = self.br
        _ip("netns", "add", br)
        _ip("-n", br, "link", "set", "lo", "up")
        _ip("-n", br, "link", "add", "br0", "type", "bridge")
        _ip("-n", br, "link", "set", "br0", "type", "bridge", "mcast_snooping", "0", "stp_state", "0",
            "forward_delay", "0")
        _ip("-n", br, "link", "set", "br0", "up")
        for h in self.hosts:
            self._add_host(h)

    def _add_host(self, h: str) -> None:
        ns = self.ns(h)
        _ip("netns", "add", ns)
        _sh(["ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.default.accept_dad=0",
             "net.ipv6.conf.all.accept_dad=0"], check=False)
        _ip("-n", ns, "link", "set", "lo", "up")
        # Both ends are created straight inside their namespaces: nothing ever exists in the root ns.
        _ip("link", "add", f"v-{self.prefix}-{h}", "netns", ns, "type", "veth", "peer", "name", f"p-{h}",
            "netns", self.br)
        _ip("-n", ns, "link", "set", f"v-{self.prefix}-{h}", "name", "eth0")
        _ip("-n", self.br, "link", "set", f"p-{h}", "master", "br0", "up")
        _ip("-n", ns, "addr", "add", f"{self.ip(h)}/24", "dev", "eth0")
        _ip("-n", ns, "link", "set", "eth0", "up")
        # Needed by zeroconf's InterfaceChoice.Default (no default route here).
        _ip("-n", ns, "route", "add", "224.0.0.0/4", "dev", "eth0")

    # -- running things in a host -------------------------------------------------------------

    def _argv(self, host: str, argv: Sequence[str]) -> list[str]:
        if host not in self.hosts:
            raise KeyError(f"no host {host!r} in lab {self.prefix}")
        return ["ip", "netns", "exec", self.ns(host), *[str(a) for a in argv]]

    def run(self, host: str, argv: Sequence[str], env: Mapping[str, str] | None = None, *,
            timeout: float = 120, check: bool = False, input: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run a command inside `host` and wait; stdout and stderr are captured as text."""
        p = subprocess.run(self._argv(host, argv), env=None if env is None else dict(env), capture_output=True,
                           text=True, timeout=timeout, input=input)
        if check and p.returncode != 0:
            raise RuntimeError(f"[{host}] {' '.join(map(str, argv))}: rc={p.returncode}\n{p.stderr}")
        return p

    def spawn(self, host: str, argv: Sequence[str], env: Mapping[str, str] | None = None, **kw: object
              ) -> subprocess.Popen[str]:
        """Start a command inside `host`. `ip netns exec` execs, so the Popen's pid is the command's."""
        kw.setdefault("stdout", subprocess.DEVNULL)
        kw.setdefault("stderr", subprocess.PIPE)
        kw.setdefault("text", True)
        p: subprocess.Popen[str] = subprocess.Popen(self._argv(host, argv), env=None if env is None else dict(env),
                                                   **kw)  # type: ignore[call-overload]
        self.procs.append(p)
        return p

    # -- faults -------------------------------------------------------------------------------

    def cut(self, host: str) -> None:
        """Unplug host's cable at the switch: its bridge port goes down (host sees NO-CARRIER)."""
        _ip("-n", self.br, "link", "set", f"p-{host}", "down")
        self._cut.add(host)

    def heal(self, host: str) -> None:
        _ip("-n", self.br, "link", "set", f"p-{host}", "up")
        self._cut.discard(host)

    def partition(self, a: str, b: str) -> None:
        """Drop everything a and b send each other (unicast and multicast); others still reach both."""
        self._parts.add(frozenset((a, b)))
        self._apply_partitions()

    def unpartition(self, a: str, b: str) -> None:
        self._parts.discard(frozenset((a, b)))
        self._apply_partitions()

    def _apply_partitions(self) -> None:
        if self.use_nft:
            self._apply_nft()
        else:
            self._apply_tc()

    def _apply_nft(self) -> None:
        nft = ["ip", "netns", "exec", self.br, "nft"]
        _sh([*nft, "delete", "table", "bridge", "netlab"], check=False)
        if not self._parts:
            return
        rules = ["table bridge netlab {", " chain filt {", "  type filter hook forward priority 0; policy accept;"]
        for pair in sorted(tuple(sorted(p)) for p in self._parts):
            a, b = pair
            rules.append(f"  iifname p-{a} oifname p-{b} drop")
            rules.append(f"  iifname p-{b} oifname p-{a} drop")
        rules += [" }", "}"]
        p = subprocess.run([*nft, "-f", "-"], input="\n".join(rules) + "\n", capture_output=True, text=True,
                           timeout=20)
        if p.returncode != 0:
            raise RuntimeError(f"nft: {p.stderr.strip()}")

    def _apply_tc(self) -> None:
        br = self.br
        if _ip("-n", br, "link", "show", "bh0", check=False).returncode != 0:
            _ip("-n", br, "link", "add", "bh0", "type", "ifb")  # left down on purpose: a black hole
        for h in self.hosts:  # rebuild every port's egress filters from the current pair set
            subprocess.run(["tc", "-n", br, "qdisc", "del", "dev", f"p-{h}", "clsact"], capture_output=True)
        for pair in self._parts:
            a, b = sorted(pair)
            for src, dst in ((a, b), (b, a)):
                port = f"p-{dst}"
                if subprocess.run(["tc", "-n", br, "qdisc", "show", "dev", port], capture_output=True,
                                  text=True).stdout.find("clsact") < 0:
                    _sh(["tc", "-n", br, "qdisc", "add", "dev", port, "clsact"])
                # Leaving the switch towards dst, from src: covers unicast and flooded multicast.
                _sh(["tc", "-n", br, "filter", "add", "dev", port, "egress", "protocol", "ip", "prio", "1",
                     "u32", "match", "ip", "src", f"{self.ip(src)}/32", "action", "mirred", "egress",
                     "redirect", "dev", "bh0"])

    # -- teardown -----------------------------------------------------------------------------

    def kill(self, proc: subprocess.Popen, sig: int = signal.SIGKILL, timeout: float = 10) -> int | None:
        """Send a signal to a process this lab started and wait for it (SIGKILL if it lingers)."""
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, sig)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGKILL)
                proc.wait(10)
        return proc.returncode

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for p in self.procs:
            if p.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(p.pid, signal.SIGKILL)
        for p in self.procs:
            with contextlib.suppress(Exception):
                p.wait(10)
            for f in (p.stdout, p.stderr, p.stdin):
                with contextlib.suppress(Exception):
                    if f:
                        f.close()
        _kill_ns(self.namespaces)
        self._state.unlink(missing_ok=True)

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def wait_for(cond: Callable[[], object], timeout: float, interval: float = 0.2, what: str = "condition") -> object:
    """Poll `cond` until it returns something truthy; fail the test with `what` on timeout."""
    deadline = time.monotonic() + timeout
    last_exc: BaseException | None = None
    while True:
        try:
            v = cond()
            if v:
                return v
        except Exception as e:  # keep polling; report the last error on timeout
            last_exc = e
        if time.monotonic() > deadline:
            msg = f"timed out after {timeout:.0f}s waiting for {what}"
            if last_exc is not None:
                msg += f" (last error: {type(last_exc).__name__}: {last_exc})"
            pytest.fail(msg)
        time.sleep(interval)


@pytest.fixture
def netlab(request: pytest.FixtureRequest) -> Iterator[Callable[..., Lab]]:
    """Factory `netlab(n_hosts, **kw) -> Lab`; every lab is closed at teardown, pass or fail."""
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    labs: list[Lab] = []

    def make(n_hosts: int, **kw: object) -> Lab:
        lab = Lab(n_hosts, **kw)  # type: ignore[arg-type]
        labs.append(lab)
        return lab

    try:
        yield make
    finally:
        for lab in labs:
            lab.close()
