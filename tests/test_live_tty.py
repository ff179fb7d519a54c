"""`meshctl status --live` / `blocks --live` driven in a real terminal: tmux on a private socket.

The pane runs a small shell script that records the terminal's termios state (`stty -g`) before
and after meshctl, and meshctl's exit status; tmux tells whether the alternate screen is still on
and whether the cursor is visible. Records reach the replica three ways: a line appended to a
local Claude log (the view ingests it), a peer's batch applied to the replica (what gossip does),
and a second real daemon over the loopback mesh.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None or shutil.which("bash") is None,
                                reason="tmux (and bash) are needed to drive a real terminal")

ROOT = Path(__file__).resolve().parent.parent


def wait_for(fn: Callable[[], object], timeout: float, what: str, interval: float = 0.1) -> object:
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def claude_line(i: int, tag: str, ts_ms: int, *, tokens: int = 1000) -> str:
    ts = datetime.fromtimestamp(ts_ms / 1000, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return json.dumps({
        "timestamp": ts, "sessionId": f"s-{tag}", "version": "2.0.14", "type": "assistant", "cwd": "/home/u/p",
        "requestId": f"req_{tag}_{i}",
        "message": {"id": f"msg_{tag}_{i}", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
                    "usage": {"input_tokens": tokens, "output_tokens": tokens // 2, "cache_read_input_tokens": 0}},
    }, separators=(",", ":"))


def append_lines(folder: Path, n: int, tag: str, *, start: int = 0, spread_ms: int = 60_000) -> None:
    d = folder / "projects" / "-home-u-p"
    d.mkdir(parents=True, exist_ok=True)
    now = int(time.time() * 1000)
    with open(d / f"{tag}.jsonl", "a") as f:
        for i in range(start, start + n):
            f.write(claude_line(i, tag, now - (n - (i - start)) * spread_ms) + "\n")


class Pane:
    """One tmux server on a private socket, one window running `argv` under a recording shell."""

    def __init__(self, tmp: Path, argv: list[str], env: dict[str, str], *, width: int = 80, height: int = 24) -> None:
        self.sock = f"meshd-live-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.tmp = tmp
        script = tmp / f"{self.sock}.sh"
        exports = "".join(f"export {k}={shlex.quote(v)}\n" for k, v in env.items())
        script.write_text(
            "#!/bin/bash\n" + exports +
            f"stty -g > {tmp}/stty.before\n"
            f"{shlex.join(argv)} 2> {tmp}/stderr.txt\n"
            f"echo \"LIVE-EXIT=$?\"\n"
            f"stty -g > {tmp}/stty.after\n"
            "sleep 600\n"
        )
        script.chmod(0o755)
        self.tmux("new-session", "-d", "-x", str(width), "-y", str(height), str(script))

    def tmux(self, *args: str) -> str:
        p = subprocess.run(["tmux", "-L", self.sock, "-f", "/dev/null", *args], capture_output=True, text=True,
                           timeout=30)
        if p.returncode:
            raise AssertionError(f"tmux {' '.join(args)}: {p.stderr}")
        return p.stdout

    def screen(self, *, escapes: bool = False) -> str:
        return self.tmux("capture-pane", "-p", *(["-e"] if escapes else []))

    def lines(self) -> list[str]:
        return self.screen().splitlines()

    def flag(self, name: str) -> str:
        return self.tmux("display-message", "-p", f"#{{{name}}}").strip()

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", *keys)

    def resize(self, w: int, h: int) -> None:
        self.tmux("resize-window", "-x", str(w), "-y", str(h))

    def pid(self) -> int:
        return int(self.flag("pane_pid"))

    def wait(self, pattern: str, timeout: float = 20) -> str:
        rx = re.compile(pattern, re.M)
        return str(wait_for(lambda: (lambda s: s if rx.search(s) else None)(self.screen()), timeout,
                            f"{pattern!r} on screen; stderr: {self.stderr()}; screen:\n{self.screen()}"))

    def stderr(self) -> str:
        try:
            return (self.tmp / "stderr.txt").read_text()[-2000:]
        except OSError:
            return ""

    def exit_code(self, timeout: float = 15) -> int:
        s = self.wait(r"^LIVE-EXIT=\d+", timeout)
        return int(re.search(r"^LIVE-EXIT=(\d+)", s, re.M).group(1))  # type: ignore[union-attr]

    def assert_restored(self) -> None:
        after = self.tmp / "stty.after"
        wait_for(lambda: after.exists() and after.read_text().endswith("\n"), 10, "stty -g after exit")
        assert (self.tmp / "stty.before").read_text() == (self.tmp / "stty.after").read_text(), "termios not restored"
        assert self.flag("alternate_on") == "0", "still on the alternate screen"
        assert self.flag("cursor_flag") == "1", "cursor still hidden"
        assert "meshd live" not in self.screen(), "the view was left on the main screen:\n" + self.screen()
        assert "Traceback" not in self.stderr(), self.stderr()

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.sock, "kill-server"], capture_output=True, timeout=30)


@pytest.fixture
def pane(tmp_path: Path):  # type: ignore[no-untyped-def]
    made: list[Pane] = []

    def make(argv: list[str], env: dict[str, str], **kw: int) -> Pane:
        p = Pane(tmp_path, argv, env, **kw)
        made.append(p)
        return p

    yield make
    for p in made:
        p.close()


def home_env(tmp: Path, name: str = "lap", **extra: str) -> dict[str, str]:
    home = tmp / f"home-{name}"
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(f'device_name = "{name}"\n')
    claude = tmp / f"claude-{name}"
    (claude / "projects").mkdir(parents=True, exist_ok=True)
    env = {"MESHD_HOME": str(home), "CLAUDE_CONFIG_DIR": str(claude), "TZ": "UTC", "TERM": "xterm-256color",
           "PYTHONPATH": str(ROOT), "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
    env.update(extra)
    return env


MESHCTL = [sys.executable, "-m", "meshctl"]


def entries_on(screen: str) -> int | None:
    m = re.search(r"Entries ([\d,]+)", screen)
    return int(m.group(1).replace(",", "")) if m else None


def fits(p: Pane, w: int, h: int) -> None:
    lines = p.lines()
    assert len(lines) <= h and all(len(x) <= w for x in lines), "\n".join(lines)


def test_view_appears_updates_resizes_and_quits_on_q(pane, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    env = home_env(tmp_path)
    claude = Path(env["CLAUDE_CONFIG_DIR"])
    append_lines(claude, 20, "a")
    p = pane([*MESHCTL, "status", "--live"], env)
    s = p.wait(r"Active block", 30)
    assert entries_on(s) == 20, s
    assert "lap*" in s and "Local" in s and "Remote" in s and "Total" in s and "No daemon" in s, s
    fits(p, 80, 24)
    # a new line in a local log shows within a few seconds (no daemon: the view ingests itself)
    t0 = time.monotonic()
    append_lines(claude, 5, "b", spread_ms=1000)
    wait_for(lambda: entries_on(p.screen()) == 25, 8, "the 5 new entries on screen")
    assert time.monotonic() - t0 < 8
    # resizes: compact, wide, back; each frame fits
    p.resize(50, 14)
    p.wait(r"^Local: ")
    fits(p, 50, 14)
    p.resize(160, 40)
    s = p.wait(r"Active block.*Official limits")
    fits(p, 160, 40)
    p.resize(80, 24)
    p.wait(r"^── Official limits")
    fits(p, 80, 24)
    p.keys("q")
    assert p.exit_code() == 0
    p.assert_restored()


def test_ctrl_c_leaves_cleanly_with_status_0(pane, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    p = pane([*MESHCTL, "blocks", "--live"], home_env(tmp_path))
    p.wait(r"meshd live", 30)
    p.wait(r"No active block")
    p.keys("C-c")
    assert p.exit_code() == 0
    p.assert_restored()


def test_sigterm_still_restores_the_terminal(pane, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    p = pane([*MESHCTL, "status", "--live"], home_env(tmp_path))
    p.wait(r"meshd live", 30)
    out = subprocess.run(["pgrep", "-P", str(p.pid())], capture_output=True, text=True).stdout.split()
    assert out, "meshctl not found under the pane's shell"
    os.kill(int(out[0]), signal.SIGTERM)
    assert p.exit_code() == 128 + signal.SIGTERM
    p.assert_restored()


def test_peer_batch_applied_to_the_replica_shows_as_remote(pane, tmp_path: Path) -> None:  # type: ignore
    """What gossip does: another device's log lands in this replica; the view shows it as remote."""
    from meshd.app import open_replica
    from meshd.core.entry import UsageEntry
    from meshd.store.replica import transaction

    env = home_env(tmp_path)
    append_lines(Path(env["CLAUDE_CONFIG_DIR"]), 10, "a")
    p = pane([*MESHCTL, "status", "--live"], env)
    p.wait(r"\(0 hosts\)", 30)
    other_home = tmp_path / "home-desk"
    other_home.mkdir()
    (other_home / "config.toml").write_text('device_name = "desk"\n')
    other = open_replica(home=other_home)
    now = int(time.time() * 1000)
    with transaction(other.conn):
        other.append_usage(UsageEntry(now - 1000 * i, "claude", "claude-opus-4-1", "s", "p", 5000, 2000,
                                      message_id=f"m{i}", request_id=f"r{i}") for i in range(5))
    mine = open_replica(home=Path(env["MESHD_HOME"]))
    t0 = time.monotonic()
    with transaction(mine.conn):
        for origin, epoch in other.vector():
            b = other.read_after(origin, epoch, 0)
            assert b is not None
            mine.apply_batch(b)
    s = p.wait(r"\(1 host\)", 8)
    assert time.monotonic() - t0 < 8
    assert "desk" in s and "2 devices" in s, s
    p.keys("q")
    assert p.exit_code() == 0
    p.assert_restored()


def test_no_color_and_colour_levels_in_a_real_terminal(pane, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    env = home_env(tmp_path / "c")
    append_lines(Path(env["CLAUDE_CONFIG_DIR"]), 5, "a")
    p = pane([*MESHCTL, "status", "--live"], env)
    p.wait(r"Active block", 30)
    assert re.search(r"\x1b\[[0-9;]*38;5;", p.screen(escapes=True)), "256 colours expected for xterm-256color"
    p.keys("q")
    assert p.exit_code() == 0
    env2 = home_env(tmp_path / "n", NO_COLOR="1")
    append_lines(Path(env2["CLAUDE_CONFIG_DIR"]), 5, "a")
    q = pane([*MESHCTL, "status", "--live"], env2)
    q.wait(r"Active block", 30)
    assert not re.search(r"\x1b\[[0-9;]*3[0-9]", q.screen(escapes=True)), "NO_COLOR must not colour"
    q.keys("q")
    assert q.exit_code() == 0
    q.assert_restored()


def test_without_a_terminal_one_snapshot_and_exit_0(tmp_path: Path) -> None:
    env = dict(os.environ, **home_env(tmp_path))
    append_lines(Path(env["CLAUDE_CONFIG_DIR"]), 12, "a")
    for argv in (["status", "--live"], ["blocks", "--live"], ["status", "--live", "--compact"]):
        p = subprocess.run([*MESHCTL, *argv], env=env, capture_output=True, text=True, timeout=60,
                           stdin=subprocess.DEVNULL)
        assert p.returncode == 0, p.stderr
        assert "\x1b" not in p.stdout and p.stderr == ""
        assert "Entries 12" in p.stdout or "Block $" in p.stdout, p.stdout
        assert re.search(r"^ ?Total:? ", p.stdout, re.M), p.stdout


@pytest.mark.parametrize("argv,msg", [
    (["status", "--live", "--json"], "--live and --json"),
    (["blocks", "--live", "--json"], "--live and --json"),
    (["blocks", "--live", "--session-length", "nan"], "--session-length"),
    (["blocks", "--live", "--session-length", "1e308"], "--session-length"),
    (["status", "--live", "--timezone", "Mars/Olympus" * 20], "zone"),
    (["status", "--live", "--timezone", "\x1b[2J"], "zone"),
])
def test_bad_options_are_one_line(argv: list[str], msg: str, tmp_path: Path) -> None:
    env = dict(os.environ, **home_env(tmp_path))
    p = subprocess.run([*MESHCTL, *argv], env=env, capture_output=True, text=True, timeout=60,
                       stdin=subprocess.DEVNULL)
    assert p.returncode != 0 and p.stderr.count("\n") == 1 and msg in p.stderr, p.stderr
    assert p.stderr.startswith("meshctl: error:") and "Traceback" not in p.stderr


def test_live_view_follows_a_second_daemon_over_the_mesh(pane, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Two real daemons on loopback (mTLS): lines written on B appear in A's live view as remote."""
    from tests.test_mesh_loopback import Mesh

    m = Mesh(tmp_path, "ab")
    try:
        for n, name in (("a", "lap"), ("b", "desk")):
            m.home(n).mkdir(parents=True, exist_ok=True)
            cfg = m.home(n) / "config.toml"
            cfg.write_text(f'device_name = "{name}"\nsync_interval = 1.0\n')
        append_lines(m.folder("a"), 6, "a")
        a = m.start("a", peers="b")
        m.start("b", peers="a")
        env = {"MESHD_HOME": str(m.home("a")), "CLAUDE_CONFIG_DIR": str(m.folder("a")), "TZ": "UTC",
               "TERM": "xterm-256color", "PYTHONPATH": str(ROOT), "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
        p = pane([*MESHCTL, "status", "--live"], env)
        p.wait(r"desk online", 40)
        from meshd.v1 import local_pb2

        # with the daemon's watch stream the title says "live", else the view polls the replica
        p.wait(r"live · q quits" if hasattr(local_pb2, "WatchRequest") else r"via daemon · q quits", 10)
        t0 = time.monotonic()
        append_lines(m.folder("b"), 4, "b", spread_ms=1000)
        s = p.wait(r"\(1 host\)", 15)
        took = time.monotonic() - t0
        assert entries_on(s) == 10, s
        assert "desk" in s and "synced" in s, s
        assert took < 15
        p.keys("q")
        assert p.exit_code() == 0
        p.assert_restored()
        assert a.alive()
    finally:
        m.stop_all()


def test_official_reading_from_another_machine_appears(pane, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from meshd.app import open_replica
    from meshd.core import ratelimit
    from meshd.store import limits
    from meshd.store.replica import transaction

    env = home_env(tmp_path, NO_COLOR="")
    p = pane([*MESHCTL, "status", "--live"], env)
    p.wait(r"no reading yet", 30)
    other_home = tmp_path / "home-desk"
    other_home.mkdir()
    (other_home / "config.toml").write_text('device_name = "desk"\n')
    other = open_replica(home=other_home)
    now = int(time.time() * 1000)
    with transaction(other.conn):
        limits.record_reading(other, ratelimit.Observation(now - 120_000, "statusline", (
            ratelimit.Window("five_hour", 93.0, now // 1000 + 3600), ratelimit.Window("seven_day", 41.0, None))))
    mine = open_replica(home=Path(env["MESHD_HOME"]))
    with transaction(mine.conn):
        for origin, epoch in other.vector():
            b = other.read_after(origin, epoch, 0)
            assert b is not None
            mine.apply_batch(b)
    s = p.wait(r"5-hour .* 93% ", 8)
    assert re.search(r"7-day .* 41% .*ago from desk", s), s
    assert re.search(r"5-hour .*resets .*2m ago from desk", s), s
    # the 93 % bar is red, the 41 % one green (256-colour palette)
    coloured = p.screen(escapes=True)
    red_line = next(x for x in coloured.splitlines() if "5-hour" in x)
    green_line = next(x for x in coloured.splitlines() if "7-day" in x)
    assert "38;5;167" in red_line and "38;5;71" in green_line, coloured
    p.keys("q")
    assert p.exit_code() == 0
    p.assert_restored()


def test_ctrl_z_gives_the_terminal_back_and_fg_resumes(tmp_path: Path) -> None:
    """In an interactive shell: Ctrl-Z stops the view with the terminal restored; `fg` brings it back."""
    env = home_env(tmp_path)
    sock = f"meshd-live-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    rc = tmp_path / "rc"
    rc.write_text("PS1='PROMPT$ '\n" + "".join(f"export {k}={shlex.quote(v)}\n" for k, v in env.items()))

    def tmux(*a: str) -> str:
        return subprocess.run(["tmux", "-L", sock, "-f", "/dev/null", *a], capture_output=True, text=True,
                              timeout=30).stdout

    def screen() -> str:
        return tmux("capture-pane", "-p")

    tmux("new-session", "-d", "-x", "80", "-y", "24", f"bash --rcfile {shlex.quote(str(rc))} -i")
    try:
        wait_for(lambda: "PROMPT$" in screen(), 10, "a shell prompt")
        tmux("send-keys", f"stty -g > {tmp_path}/before; {shlex.join([*MESHCTL, 'status', '--live'])}", "Enter")
        wait_for(lambda: "meshd live" in screen(), 30, "the view")
        tmux("send-keys", "C-z")
        wait_for(lambda: "Stopped" in screen(), 10, "the job to stop")
        assert tmux("display-message", "-p", "#{alternate_on} #{cursor_flag}").strip() == "0 1"
        tmux("send-keys", f"stty -g > {tmp_path}/stopped; fg", "Enter")
        wait_for(lambda: "meshd live" in screen(), 10, "the view again after fg")
        assert tmux("display-message", "-p", "#{alternate_on}").strip() == "1"
        tmux("send-keys", "q")
        wait_for(lambda: tmux("display-message", "-p", "#{alternate_on}").strip() == "0", 10, "the main screen")
        tmux("send-keys", f"echo rc=$?; stty -g > {tmp_path}/after", "Enter")
        wait_for(lambda: (tmp_path / "after").exists() and (tmp_path / "after").read_text().endswith("\n")
                 and "rc=0" in screen(), 10, "exit status 0")
        before = (tmp_path / "before").read_text()
        assert (tmp_path / "stopped").read_text() == before and (tmp_path / "after").read_text() == before
    finally:
        subprocess.run(["tmux", "-L", sock, "kill-server"], capture_output=True, timeout=30)
