"""Service files: the systemd user unit validates with `systemd-analyze verify`, hostile paths and
environment values survive systemd's quoting rules, the plist parses and points at a real meshd,
`--dry-run` output installs as is, and install/uninstall/status drive systemctl and launchctl."""

from __future__ import annotations

import json
import os
import plistlib
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from meshd.errors import ConfigError
from meshd.service import (
    LABEL,
    ServiceSpec,
    env_assignment,
    exec_word,
    launchd_plist,
    path_word,
    resolve_env,
    systemd_unit,
)

ROOT = Path(__file__).resolve().parent.parent
MESHD = Path(sys.executable).parent / "meshd"  # the meshd installed next to this interpreter
HAVE_ANALYZE = shutil.which("systemd-analyze") is not None
needs_analyze = pytest.mark.skipif(not HAVE_ANALYZE, reason="systemd-analyze is not installed here")


def real_meshd() -> Path:
    if not os.access(MESHD, os.X_OK):
        pytest.skip(f"no installed meshd next to {sys.executable} (pip install -e . first)")
    return MESHD


def verify(unit: Path, tmp_path: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`systemd-analyze --user verify`; a private runtime dir lets it run without a user session."""
    rt = tmp_path / "xdg-runtime"
    rt.mkdir(mode=0o700, exist_ok=True)
    e = dict(env or os.environ, XDG_RUNTIME_DIR=str(rt), SYSTEMD_LOG_LEVEL="notice")
    return subprocess.run(["systemd-analyze", "--user", "verify", str(unit)], capture_output=True, text=True,
                          env=e, timeout=60)


def assert_clean(p: subprocess.CompletedProcess[str]) -> None:
    """verify exits 0 even for ignored settings: a clean unit also prints nothing."""
    assert p.returncode == 0, p.stderr
    assert p.stderr.strip() == "", p.stderr


def unquote_systemd(line: str) -> list[str]:
    """Reference unquoting of a unit value per systemd.syntax(7): words split on blanks, "..." quotes,
    C escapes inside them, then %% -> % (specifiers). A test oracle for Environment= values."""
    words, i = [], 0
    esc = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'"}
    while i < len(line):
        if line[i] == " ":
            i += 1
            continue
        word = []
        while i < len(line) and line[i] != " ":
            if line[i] == '"':
                i += 1
                while line[i] != '"':
                    if line[i] == "\\":
                        if line[i + 1] == "x":
                            word.append(chr(int(line[i + 2:i + 4], 16)))
                            i += 4
                            continue
                        word.append(esc[line[i + 1]])
                        i += 2
                        continue
                    word.append(line[i])
                    i += 1
                i += 1
            else:
                word.append(line[i])
                i += 1
        words.append("".join(word).replace("%%", "%"))
    return words


HOSTILE_VALUES = [
    "plain", "with space", 'dq"uote', "sq'uote", "pct %h %n %%", "dollar $HOME ${X} $$", "back\\slash",
    "new\nline", "tab\there", "cr\rhere", "ctl\x01\x1f\x7f", "ünï 😀", "semi;colon # hash", "=1+2",
]


@pytest.mark.parametrize("value", HOSTILE_VALUES)
def test_environment_values_round_trip_systemd_quoting(value: str) -> None:
    line = env_assignment("CODEX_HOME", value)
    assert "\n" not in line
    assert unquote_systemd(line) == [f"CODEX_HOME={value}"]


@pytest.mark.parametrize("bad", ["", "1X", "A-B", "A B", "Ä", "A=B"])
def test_environment_names_are_checked(bad: str) -> None:
    with pytest.raises(ConfigError):
        env_assignment(bad, "v")


@pytest.mark.parametrize("value", ["/tmp/a\x00b", "/tmp/\udcff"])
def test_nul_and_non_utf8_are_refused(value: str) -> None:
    for fn in (lambda: exec_word(value), lambda: env_assignment("X", value), lambda: path_word(value)):
        with pytest.raises(ConfigError):
            fn()


@pytest.mark.parametrize("home", ["/tmp/a\nb", "/tmp/tab\there", "relative/home"])
def test_unrepresentable_data_homes_are_refused(home: str) -> None:
    with pytest.raises(ConfigError) as e:
        systemd_unit(ServiceSpec(meshd="/usr/bin/meshd", home=home, env=(("MESHD_HOME", home),)))
    assert "control character" in str(e.value) or "not absolute" in str(e.value)


@pytest.mark.parametrize("exe", ['/opt/q"x/meshd', "/opt/q'x/meshd", "/opt/b\\x/meshd", "/opt/n\nx/meshd",
                                 "meshd", "./bin/meshd"])
def test_executable_paths_systemd_refuses_are_refused_clearly(exe: str) -> None:
    with pytest.raises(ConfigError) as e:
        systemd_unit(ServiceSpec(meshd=exe, home="/tmp/h"))
    assert e.value.hint or "absolute" in str(e.value)


def test_resolve_env_makes_folders_absolute() -> None:
    env = resolve_env({"CLAUDE_CONFIG_DIR": "rel/a, ~/b ,/abs/c,", "CODEX_HOME": "~", "XDG_CONFIG_HOME": " ",
                       "UNRELATED": "x"}, home="/data/h", cwd="/work", user_home="/home/u")
    assert env == (("MESHD_HOME", "/data/h"), ("CLAUDE_CONFIG_DIR", "/work/rel/a,/home/u/b,/abs/c"),
                   ("CODEX_HOME", "/home/u"))


@needs_analyze
def test_rendered_unit_verifies(tmp_path: Path) -> None:
    exe = real_meshd()
    spec = ServiceSpec(meshd=str(exe), home=str(tmp_path / "home"),
                       env=(("MESHD_HOME", str(tmp_path / "home")), ("CLAUDE_CONFIG_DIR", "/a,/b")),
                       extra_writable=("/tmp",))
    unit = tmp_path / "meshd.service"
    unit.write_text(systemd_unit(spec))
    assert_clean(verify(unit, tmp_path))
    text = unit.read_text()
    for need in ("Restart=on-failure", "NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=read-only",
                 "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK", "WantedBy=default.target"):
        assert need in text.splitlines()
    assert "PrivateNetwork" not in text and "IPAddressDeny" not in text  # the daemon must reach the LAN
    assert "PrivateTmp" not in text  # the socket may live in /tmp where meshctl must find it


@needs_analyze
def test_verify_catches_a_broken_unit(tmp_path: Path) -> None:
    """The check is honest: a unit with a typo or a missing binary does not pass."""
    exe = real_meshd()
    unit = tmp_path / "meshd.service"
    unit.write_text(systemd_unit(ServiceSpec(meshd=str(exe), home="/tmp/h")).replace("Restart=on-failure",
                                                                                      "Restart=on-failur"))
    p = verify(unit, tmp_path)
    assert p.stderr.strip() != ""
    unit.write_text(systemd_unit(ServiceSpec(meshd=str(tmp_path / "nope" / "meshd"), home="/tmp/h")))
    assert verify(unit, tmp_path).returncode != 0


@needs_analyze
@pytest.mark.parametrize("dirname", ["with space", "pct%h%i", "dollar$HOME", "ünï 😀", "semi;colon"])
def test_hostile_paths_verify_and_point_at_the_binary(tmp_path: Path, dirname: str) -> None:
    """systemd itself resolves ExecStart (verify fails when the file is not there), so a wrongly
    escaped % or $ in the path would fail this test; the data home takes the same characters."""
    d = tmp_path / dirname
    d.mkdir()
    exe = d / "meshd"
    shutil.copy(real_meshd(), exe)
    home = str(tmp_path / ("home " + dirname + ' "q" \\ x'))
    env = (("MESHD_HOME", home), ("CODEX_HOME", "/x\ny %h $Z"))
    unit = tmp_path / "meshd.service"
    unit.write_text(systemd_unit(ServiceSpec(meshd=str(exe), home=home, env=env)))
    assert_clean(verify(unit, tmp_path))


def test_plist_parses_and_points_at_a_real_meshd(tmp_path: Path) -> None:
    exe = real_meshd()
    home = str(tmp_path / 'Application Support & <"meshd">')
    env = (("MESHD_HOME", home), ("CLAUDE_CONFIG_DIR", "/a b,/c"), ("CODEX_HOME", "/x\ny %h $Z & <>"))
    data = launchd_plist(ServiceSpec(meshd=str(exe), home=home, env=env))
    d = plistlib.loads(data)
    prog = d["ProgramArguments"]
    assert prog[1:] == ["run"] and os.access(prog[0], os.X_OK) and Path(prog[0]).samefile(exe)
    assert d["Label"] == LABEL and d["RunAtLoad"] is True and d["KeepAlive"] == {"SuccessfulExit": False}
    assert d["EnvironmentVariables"] == dict(env)
    assert d["StandardErrorPath"] == d["StandardOutPath"] == f"{home}/logs/meshd.log"
    assert d["Umask"] == 0o077
    with pytest.raises(ConfigError):
        launchd_plist(ServiceSpec(meshd=str(exe), home=home, env=(("X", "bell\x07"),)))


def test_repository_service_files_are_current() -> None:
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import gen_service_files
    finally:
        sys.path.pop(0)
    for path, make in gen_service_files.FILES.items():
        assert path.read_bytes() == make(), f"{path} is stale: run python tools/gen_service_files.py"
    plistlib.loads((ROOT / "launchd" / "dev.meshd.meshd.plist").read_bytes())


# ------------------------------------------------------------------------------------------ the CLI

def cli_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ, HOME=str(tmp_path / "user"), MESHD_HOME=str(tmp_path / "data home"))
    for k in ("XDG_CONFIG_HOME", "CLAUDE_CONFIG_DIR", "CODEX_HOME"):
        env.pop(k, None)
    env.update(extra)
    (tmp_path / "user").mkdir(exist_ok=True)
    return env


def meshctl(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(Path(sys.executable).parent / "meshctl"), *argv], env=env, capture_output=True,
                          text=True, timeout=60)


@needs_analyze
def test_dry_run_output_installs_and_validates(tmp_path: Path) -> None:
    real_meshd()
    env = cli_env(tmp_path, CLAUDE_CONFIG_DIR="rel/claude,/abs/claude", CODEX_HOME="/codex 100%")
    p = meshctl(env, "service", "install", "--dry-run", "--platform", "systemd")
    assert p.returncode == 0, p.stderr
    assert "# would run: systemctl --user daemon-reload" in p.stderr
    assert "# would run: systemctl --user enable --now meshd.service" in p.stderr
    target = tmp_path / "user" / ".config" / "systemd" / "user" / "meshd.service"
    assert str(target) in p.stderr
    target.parent.mkdir(parents=True)
    target.write_text(p.stdout)
    assert_clean(verify(target, tmp_path, env))
    assert f'ExecStart="{MESHD}" "run"' in p.stdout
    assert f'Environment="MESHD_HOME={tmp_path}/data home"' in p.stdout
    assert f'Environment="CLAUDE_CONFIG_DIR={os.getcwd()}/rel/claude,/abs/claude"' in p.stdout
    assert 'Environment="CODEX_HOME=/codex 100%%"' in p.stdout
    assert not (tmp_path / "data home").exists()  # a dry run changes nothing


def test_install_notes_a_home_outside_a_mesh(tmp_path: Path) -> None:
    """meshd refuses to start before init/join: install says so (once the home is in a mesh, it does not)."""
    from meshd.security.testing import make_mesh

    real_meshd()
    env = cli_env(tmp_path)
    p = meshctl(env, "service", "install", "--dry-run")
    assert p.returncode == 0 and "not part of a mesh yet" in p.stderr and "meshctl init" in p.stderr
    make_mesh([tmp_path / "data home"])
    p = meshctl(env, "service", "install", "--dry-run")
    assert p.returncode == 0 and "not part of a mesh" not in p.stderr


def test_dry_run_launchd_plist(tmp_path: Path) -> None:
    real_meshd()
    env = cli_env(tmp_path)
    p = meshctl(env, "service", "install", "--dry-run", "--platform", "launchd")
    assert p.returncode == 0, p.stderr
    d = plistlib.loads(p.stdout.encode())
    assert Path(d["ProgramArguments"][0]).samefile(MESHD)
    assert d["EnvironmentVariables"]["MESHD_HOME"] == f"{tmp_path}/data home"
    assert f"launchctl bootstrap gui/{os.getuid()} {tmp_path}/user/Library/LaunchAgents/{LABEL}.plist" \
        in p.stderr.replace("'", "")


@pytest.mark.parametrize("argv", [
    ["install", "--platform", "windows"],
    ["install", "--dry-run", "--meshd", "/nonexistent/meshd"],
    ["install", "--dry-run", "--meshd", ""],
    ["install", "--dry-run", "--meshd", "NOT-EXECUTABLE"],
    ["install", "--dry-run", "--meshd", "/"],
    ["install", "--dry-run", "--meshd", "x" * 5000],
    ["status", "--platform", "beos"],
    ["frobnicate"],
])
def test_broken_arguments_fail_cleanly(tmp_path: Path, argv: list[str]) -> None:
    plain = tmp_path / "plain-file"
    plain.write_text("#!/bin/sh\n")
    plain.chmod(0o644)
    argv = [str(plain) if a == "NOT-EXECUTABLE" else a for a in argv]
    p = meshctl(cli_env(tmp_path), "service", *argv)
    assert p.returncode != 0 and p.stdout == ""
    assert "Traceback" not in p.stderr
    assert 1 <= len([ln for ln in p.stderr.splitlines() if ln.strip()]) <= 4, p.stderr


@pytest.mark.parametrize("home", ["/tmp/" + "x" * 5000, "/tmp/" + "y" * 300 + "/meshd", "/tmp/a\nb"])
@pytest.mark.parametrize("platform", ["systemd", "launchd"])
def test_huge_or_broken_data_homes_fail_cleanly(tmp_path: Path, home: str, platform: str) -> None:
    real_meshd()
    p = meshctl(cli_env(tmp_path), "--home", home, "service", "install", "--dry-run", "--platform", platform)
    if platform == "launchd" and "\n" in home:  # a newline is fine in a plist string
        assert p.returncode == 0 and plistlib.loads(p.stdout.encode())["WorkingDirectory"] == home
        return
    assert p.returncode == 1 and p.stdout == "", p.stdout
    assert p.stderr.startswith("meshctl: error: ") and len(p.stderr.splitlines()) == 1 and len(p.stderr) < 400


def test_no_meshd_anywhere_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from meshctl import service_cmd

    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setattr(sys, "argv", [str(tmp_path / "meshctl")])
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr("sysconfig.get_path", lambda name: str(tmp_path))
    with pytest.raises(ConfigError) as e:
        service_cmd.find_meshd()
    assert "cannot find the meshd executable" in str(e.value) and "--meshd" in (e.value.hint or "")
    (tmp_path / "meshd").write_text("#!/bin/sh\n")
    (tmp_path / "meshd").chmod(0o755)
    assert service_cmd.find_meshd() == tmp_path / "meshd"  # next to meshctl


def test_long_data_home_makes_the_socket_folder_writable(tmp_path: Path) -> None:
    from meshctl.service_cmd import build_spec
    from meshd.config import socket_path

    home = tmp_path / ("h" * 120)
    spec = build_spec(home, MESHD)
    assert spec.extra_writable == (str(socket_path(home).parent.parent),)
    assert build_spec(tmp_path / "short", MESHD).extra_writable == ()


# -------------------------------------------------------------- install / uninstall against a manager

FAKE = """#!/bin/sh
# Stand-in for {tool}: records its arguments and answers like a running user manager.
echo "$*" >> "$FAKE_LOG"
case "$*" in
  "--user show --property=Version") echo 252; exit 0;;
  "--user is-active --quiet meshd.service") [ -f "$FAKE_STATE" ]; exit $?;;
  "--user enable --now meshd.service") touch "$FAKE_STATE"; exit 0;;
  "--user disable --now meshd.service") rm -f "$FAKE_STATE"; exit 0;;
  "--user is-active meshd.service") [ -f "$FAKE_STATE" ] && echo active || echo inactive; exit 0;;
  "--user is-enabled meshd.service") [ -f "$FAKE_STATE" ] && echo enabled || echo disabled; exit 0;;
  "--user show --property=MainPID --value meshd.service") echo 4242; exit 0;;
  bootstrap*) touch "$FAKE_STATE"; exit 0;;
  bootout*) [ -f "$FAKE_STATE" ] || exit 3; rm -f "$FAKE_STATE"; exit 0;;
  print*) [ -f "$FAKE_STATE" ] || exit 113; printf 'gui/0/dev.meshd.meshd = {{\\n\\tstate = running\\n\\tpid = 77\\n}}\\n'; exit 0;;
esac
exit 0
"""


@pytest.mark.parametrize("platform,tool", [("systemd", "systemctl"), ("launchd", "launchctl")])
def test_install_status_uninstall_drive_the_manager(tmp_path: Path, platform: str, tool: str) -> None:
    """The adapter's command sequence, against a recording stand-in for systemctl / launchctl (the
    real thing is exercised by test_real_systemd_user_install where a user manager exists)."""
    real_meshd()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / tool
    fake.write_text(FAKE.format(tool=tool))
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    log = tmp_path / "calls.log"
    env = cli_env(tmp_path, PATH=f"{bin_dir}:{os.environ['PATH']}", FAKE_LOG=str(log),
                  FAKE_STATE=str(tmp_path / "state"))
    p = meshctl(env, "service", "install", "--platform", platform)
    assert p.returncode == 0, p.stderr
    path = Path(p.stdout.splitlines()[0].removeprefix("installed "))
    assert path.is_file() and path.is_relative_to(tmp_path / "user")
    assert (tmp_path / "data home").is_dir()
    calls = log.read_text().splitlines()
    if platform == "systemd":
        assert calls[-2:] == ["--user daemon-reload", "--user enable --now meshd.service"]
    else:
        assert calls[-1] == f"bootstrap gui/{os.getuid()} {path}"
        assert (tmp_path / "data home" / "logs").is_dir()
    s = meshctl(env, "service", "status", "--platform", platform, "--json")
    st = json.loads(s.stdout)
    assert (st["installed"], st["current"], st["enabled"], st["running"]) == (True, True, True, True)
    assert st["pid"] in (4242, 77)
    # a second install restarts the running unit so it picks up the new file
    log.write_text("")
    assert meshctl(env, "service", "install", "--platform", platform).returncode == 0
    if platform == "systemd":
        assert log.read_text().splitlines()[-1] == "--user restart meshd.service"
    u = meshctl(env, "service", "uninstall", "--platform", platform)
    assert u.returncode == 0, u.stderr
    assert not path.exists()
    st = json.loads(meshctl(env, "service", "status", "--platform", platform, "--json").stdout)
    assert (st["installed"], st["running"]) == (False, False)
    again = meshctl(env, "service", "uninstall", "--platform", platform)
    assert again.returncode == 0 and "not installed" in again.stdout


def test_status_without_a_manager_says_why(tmp_path: Path) -> None:
    env = cli_env(tmp_path, PATH=str(tmp_path / "empty"))
    p = subprocess.run([sys.executable, "-m", "meshctl", "service", "status", "--platform", "systemd"], env=env,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert "not installed" in p.stdout and "systemctl not found" in p.stdout
    i = subprocess.run([sys.executable, "-m", "meshctl", "service", "install", "--platform", "systemd"], env=env,
                       capture_output=True, text=True, timeout=60)
    assert i.returncode == 1 and i.stderr.startswith("meshctl: error: cannot install the systemd service")
    assert not (tmp_path / "user" / ".config").exists()


def _user_manager_problem() -> str | None:
    from meshctl.service_cmd import manager_problem

    return manager_problem("systemd")


SYSTEMD = next((p for p in ("/lib/systemd/systemd", "/usr/lib/systemd/systemd") if os.access(p, os.X_OK)), None)

# Inside private mount, PID and network namespaces: a tmpfs /run that says "booted with systemd",
# a systemd user manager for this user, then the driver. Everything dies with the namespace.
SANDBOX = r"""
set -u
mount -t tmpfs tmpfs /run && mkdir -p /run/systemd/system "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
command -v ip >/dev/null && ip link set lo up
"$SYSTEMD" --user >"$WORK/manager.log" 2>&1 &
for _ in $(seq 100); do systemctl --user show --property=Version >/dev/null 2>&1 && break; sleep 0.1; done
exec "$PYTHON" "$WORK/driver.py"
"""

DRIVER = r"""
import json, os, subprocess, sys, time
M = os.environ["MESHCTL"]
def ctl(*a):
    p = subprocess.run([M, *a], capture_output=True, text=True, timeout=60)
    return p
out = {}
assert ctl("init").returncode == 0
p = ctl("service", "install")
out["install"] = [p.returncode, p.stdout, p.stderr]
deadline = time.monotonic() + 30
while True:
    st = json.loads(ctl("service", "status", "--json").stdout)
    daemon = json.loads(ctl("status", "--json").stdout)["daemon"]
    if (st["running"] and daemon) or time.monotonic() > deadline:
        break
    time.sleep(0.3)
out["status"], out["daemon"] = st, daemon
if st["pid"]:
    mounts = open(f"/proc/{st['pid']}/mountinfo").read().splitlines()
    def covering(path):  # options of the mount that holds `path` (mountinfo escapes as octal)
        import re
        best = ("", "absent")
        for line in mounts:
            f = line.split()
            mp = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), f[4])
            if (path == mp or path.startswith(mp.rstrip("/") + "/")) and len(mp) >= len(best[0]):
                best = (mp, f[5])
        return best[1]
    out["root_mount"] = covering("/usr")
    out["home_mount"] = covering(os.environ["MESHD_HOME"])
out["unit_status"] = subprocess.run(["systemctl", "--user", "status", "meshd.service", "--no-pager"],
                                    capture_output=True, text=True).stdout[:2000]
p = ctl("service", "uninstall")
out["uninstall"] = [p.returncode, p.stdout, p.stderr]
out["after"] = json.loads(ctl("service", "status", "--json").stdout)
print("RESULT " + json.dumps(out))
"""


def _sandboxed_manager_problem() -> str | None:
    if os.geteuid() != 0:
        return "not root: cannot start a private systemd user manager in namespaces"
    if SYSTEMD is None or not shutil.which("unshare") or not shutil.which("systemctl"):
        return "systemd, systemctl or unshare is not installed"
    return None


@pytest.mark.parametrize("home_name", ["data home %i $X", "long-" + "h" * 110])
def test_real_systemd_user_install(tmp_path: Path, home_name: str) -> None:
    """Install, run, stop and remove the unit with a real systemd user manager: the machine's own, or
    (as root without one, e.g. in a container) a private one started in fresh mount/PID/net namespaces.
    The long home puts the daemon's socket in the temp folder (config.socket_path): still reachable."""
    exe = real_meshd()
    home = tmp_path / home_name
    work = tmp_path / "work"
    work.mkdir()
    env = dict(os.environ, MESHD_HOME=str(home), MESHCTL=str(exe.parent / "meshctl"), PYTHON=sys.executable,
               WORK=str(work), HOME=str(tmp_path / "user"), XDG_CONFIG_HOME=str(tmp_path / "user" / ".config"))
    env.pop("CLAUDE_CONFIG_DIR", None)
    (tmp_path / "user").mkdir()
    (work / "driver.py").write_text(DRIVER)
    if shutil.which("systemctl") and _user_manager_problem() is None:
        if (Path.home() / ".config" / "systemd" / "user" / "meshd.service").exists():
            pytest.skip("a real meshd service is installed for this user; not touching it")
        argv = [sys.executable, str(work / "driver.py")]
    else:
        problem = _sandboxed_manager_problem()
        if problem:
            pytest.skip(f"no systemd user manager here and none can be started ({problem})")
        env.update(SYSTEMD=str(SYSTEMD), XDG_RUNTIME_DIR=str(tmp_path / "xdg-run"))
        argv = ["unshare", "--mount", "--pid", "--net", "--fork", "--kill-child", "--mount-proc", "--propagation", "private",
                "bash", "-c", SANDBOX]
    p = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=180)
    line = [x for x in p.stdout.splitlines() if x.startswith("RESULT ")]
    assert line, (p.stdout[-3000:], p.stderr[-3000:])
    out = json.loads(line[-1][7:])
    assert out["install"][0] == 0, out["install"]
    st = out["status"]
    assert st["installed"] and st["current"] and st["enabled"] and st["running"] and st["pid"], out
    assert out["daemon"] is True, out  # meshctl reached the daemon's socket
    if "root_mount" in out:  # where the sandbox applies, / is read-only for meshd and its home is not
        assert out["root_mount"].split(",")[0] == "ro", out
        assert out["home_mount"].split(",")[0] == "rw", out
    assert out["uninstall"][0] == 0, out["uninstall"]
    assert not out["after"]["installed"] and not out["after"]["running"]
    assert not (tmp_path / "user" / ".config" / "systemd" / "user" / "meshd.service").exists()
