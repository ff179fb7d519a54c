"""`meshctl service install|uninstall|status`: run `meshd run` under systemd (user unit) or launchd.

The file text comes from `meshd/service.py` (pure); this module finds the installed meshd, writes
the file, and runs systemctl / launchctl. `--dry-run` prints the file on stdout (redirect it to the
path and it installs as is) and what would be done on stderr.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from meshd.errors import ConfigError, DaemonError

PLATFORMS = ("systemd", "launchd")
_TIMEOUT = 60


# ------------------------------------------------------------------------------------- discovery

def find_meshd(explicit: str | None = None) -> Path:
    """The installed `meshd`: --meshd, else the one next to this meshctl / this Python, else on PATH."""
    if explicit is not None:
        p = Path(os.path.expanduser(explicit)).absolute()
        if not _is_exe(p):
            raise ConfigError(f"--meshd {explicit[:200]!r} is not an executable file")
        return p
    candidates: list[Path] = []
    argv0 = sys.argv[0] if sys.argv else ""
    if argv0 and Path(argv0).name.startswith("meshctl"):
        candidates.append(Path(argv0).absolute().parent / "meshd")
    candidates.append(Path(sys.executable).absolute().parent / "meshd")
    try:
        import sysconfig

        candidates.append(Path(sysconfig.get_path("scripts")) / "meshd")
    except (KeyError, TypeError):
        pass
    on_path = shutil.which("meshd")
    if on_path:
        candidates.append(Path(on_path).absolute())
    for c in candidates:
        if _is_exe(c):
            return c
    raise ConfigError("cannot find the meshd executable (looked next to meshctl, next to "
                      f"{Path(sys.executable).name}, and on PATH)",
                      hint="install meshd (pip install meshd, or pipx install meshd) or pass --meshd PATH")


def _is_exe(p: Path) -> bool:
    try:
        return p.is_file() and os.access(p, os.X_OK) and bool(p.stat().st_mode & 0o111)
    except (OSError, ValueError):
        return False


def _home(ctx: click.Context) -> Path:
    from meshd.config import default_home

    obj = ctx.find_root().obj or {}
    home = obj.get("home") or default_home()
    return Path(home).expanduser().absolute()


def _note_mesh(home: Path, platform: str) -> None:
    """meshd refuses to start outside a mesh: say so (the unit would only restart and give up)."""
    from meshd.security.pki import has_material

    if has_material(home):
        return
    again = ("`systemctl --user restart meshd`" if platform == "systemd"
             else f"`launchctl kickstart -k gui/{os.getuid()}/dev.meshd.meshd`")
    click.echo("meshctl: note: this data home is not part of a mesh yet and meshd will not start until it is: "
               f"run `meshctl init` (first machine) or `meshctl join CODE`, then {again}", err=True)


def _default_platform() -> str:
    return "launchd" if sys.platform == "darwin" else "systemd"


def unit_path(platform: str) -> Path:
    if platform == "launchd":
        from meshd.service import PLIST_NAME

        return Path.home() / "Library" / "LaunchAgents" / PLIST_NAME
    from meshd.service import UNIT_NAME

    xdg = os.environ.get("XDG_CONFIG_HOME")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".config"
    return base / "systemd" / "user" / UNIT_NAME


def build_spec(home: Path, meshd: Path) -> Any:
    from meshd.config import socket_path
    from meshd.service import ServiceSpec, resolve_env

    env = resolve_env(os.environ, home=str(home), cwd=os.getcwd(), user_home=str(Path.home()))
    sock_dir = socket_path(home).parent
    extra: tuple[str, ...] = ()
    if home not in sock_dir.parents:  # the socket falls back to a per-user folder in the temp dir
        extra = (str(sock_dir.parent),)
    return ServiceSpec(meshd=str(meshd), home=str(home), env=env, extra_writable=extra)


def render(platform: str, spec: Any) -> bytes:
    from meshd.service import launchd_plist, systemd_unit

    if platform == "launchd":
        return launchd_plist(spec)
    return systemd_unit(spec).encode("utf-8")


# ------------------------------------------------------------------------------------- commands

@dataclass
class Plan:
    """What install/uninstall will do: commands, each with whether a failure is fatal."""

    path: Path
    commands: list[tuple[list[str], bool]]


def _gui() -> str:
    return f"gui/{os.getuid()}"


def install_plan(platform: str, path: Path, *, was_active: bool) -> Plan:
    from meshd.service import LABEL, UNIT_NAME

    if platform == "launchd":
        return Plan(path, [
            (["launchctl", "bootout", f"{_gui()}/{LABEL}"], False),  # a previous version, if loaded
            (["launchctl", "enable", f"{_gui()}/{LABEL}"], True),
            (["launchctl", "bootstrap", _gui(), str(path)], True),
        ])
    cmds: list[tuple[list[str], bool]] = [
        (["systemctl", "--user", "daemon-reload"], True),
        (["systemctl", "--user", "enable", "--now", UNIT_NAME], True),
    ]
    if was_active:  # enable --now does not restart a running unit: pick up the new file
        cmds.append((["systemctl", "--user", "restart", UNIT_NAME], True))
    return Plan(path, cmds)


def uninstall_plan(platform: str, path: Path) -> Plan:
    from meshd.service import LABEL, UNIT_NAME

    if platform == "launchd":
        return Plan(path, [(["launchctl", "bootout", f"{_gui()}/{LABEL}"], False)])
    return Plan(path, [
        (["systemctl", "--user", "disable", "--now", UNIT_NAME], False),
        (["systemctl", "--user", "daemon-reload"], False),
        (["systemctl", "--user", "reset-failed", UNIT_NAME], False),
    ])


def _run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=_TIMEOUT)
    except FileNotFoundError:
        raise DaemonError(f"{argv[0]} not found", hint=_no_manager_hint()) from None
    except subprocess.TimeoutExpired:
        raise DaemonError(f"`{shlex.join(argv)}` did not answer within {_TIMEOUT} s") from None


def _no_manager_hint() -> str:
    return ("run `meshctl service install --dry-run` to see the file and commands, "
            "or start `meshd run` yourself")


def _first_line(p: subprocess.CompletedProcess[str]) -> str:
    text = (p.stderr or p.stdout or "").strip().splitlines()
    return text[0][:300] if text else f"exit status {p.returncode}"


def manager_problem(platform: str) -> str | None:
    """Why the service manager cannot be used here, or None when it can."""
    tool = "launchctl" if platform == "launchd" else "systemctl"
    if shutil.which(tool) is None:
        return f"{tool} not found (not a {platform} system)"
    if platform == "systemd":
        p = _run(["systemctl", "--user", "show", "--property=Version"])
        if p.returncode != 0:
            return f"no systemd user manager: {_first_line(p)}"
    return None


def _execute(plan: Plan) -> None:
    import time

    for argv, fatal in plan.commands:
        p = _run(argv)
        # launchd finishes a bootout asynchronously; bootstrap right after it can fail for a moment
        for _ in range(10 if argv[:2] == ["launchctl", "bootstrap"] else 0):
            if p.returncode == 0:
                break
            time.sleep(0.5)
            p = _run(argv)
        if p.returncode != 0 and fatal:
            raise DaemonError(f"`{shlex.join(argv)}` failed: {_first_line(p)}",
                              hint="see `meshctl service status` and the service logs (docs/services.md)")


def _write_atomic(path: Path, data: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as e:
        raise ConfigError(f"cannot write {path}: {e.strerror}") from None


def _is_active(platform: str) -> bool:
    from meshd.service import LABEL, UNIT_NAME

    if platform == "launchd":
        return _run(["launchctl", "print", f"{_gui()}/{LABEL}"]).returncode == 0
    return _run(["systemctl", "--user", "is-active", "--quiet", UNIT_NAME]).returncode == 0


def _say_plan(plan: Plan, *, write: bool) -> None:
    if write:
        click.echo(f"# would write {shlex.quote(str(plan.path))} (the text above)", err=True)
    for argv, fatal in plan.commands:
        click.echo(f"# would run: {shlex.join(argv)}" + ("" if fatal else "   (failure ignored)"), err=True)


# ------------------------------------------------------------------------------------- click

_platform_opt = click.option("--platform", type=click.Choice(PLATFORMS), default=None,
                             help="Service manager (default: launchd on macOS, systemd elsewhere).")
_dry_opt = click.option("--dry-run", is_flag=True,
                        help="Print the file on stdout and the commands on stderr; change nothing.")


@click.group("service", help="Run meshd as a user service (systemd user unit or launchd LaunchAgent).")
def service() -> None:
    pass


@service.command("install", help="Write the service file for the installed meshd, enable and start it.")
@_platform_opt
@_dry_opt
@click.option("--meshd", "meshd_path", metavar="PATH", help="The meshd executable (default: found automatically).")
@click.pass_context
def install(ctx: click.Context, platform: str | None, dry_run: bool, meshd_path: str | None) -> None:
    platform = platform or _default_platform()
    home = _home(ctx)
    spec = build_spec(home, find_meshd(meshd_path))
    data = render(platform, spec)
    path = unit_path(platform)
    if dry_run:
        _note_mesh(home, platform)
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        _say_plan(install_plan(platform, path, was_active=False), write=True)
        return
    problem = manager_problem(platform)
    if problem:
        raise DaemonError(f"cannot install the {platform} service: {problem}", hint=_no_manager_hint())
    _note_mesh(home, platform)
    from meshd.config import ensure_home

    ensure_home(home)
    if platform == "launchd":  # launchd opens the log file itself and needs its folder
        try:
            Path(spec.log_dir).mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as e:
            raise ConfigError(f"cannot create {spec.log_dir}: {e.strerror}") from None
    was_active = _is_active(platform)
    _write_atomic(path, data)
    _execute(install_plan(platform, path, was_active=was_active))
    click.echo(f"installed {path}")
    click.echo(f"meshd runs as {spec.meshd} with data home {home}")
    if platform == "systemd":
        click.echo("logs: journalctl --user -u meshd   (to keep it running after logout: loginctl enable-linger)")
    else:
        click.echo(f"logs: {spec.log_file}")


@service.command("uninstall", help="Stop and disable the service and remove its file.")
@_platform_opt
@_dry_opt
def uninstall(platform: str | None, dry_run: bool) -> None:
    platform = platform or _default_platform()
    path = unit_path(platform)
    plan = uninstall_plan(platform, path)
    if dry_run:
        for argv, fatal in plan.commands:
            click.echo(shlex.join(argv) + ("" if fatal else "   # failure ignored"))
        click.echo(f"rm -f {shlex.quote(str(path))}")
        return
    if not path.exists():
        click.echo(f"meshd service is not installed ({path} does not exist)")
        return
    problem = manager_problem(platform)
    if problem is None:
        _execute(Plan(path, plan.commands[:1]))  # stop and disable while the file still exists
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    except OSError as e:
        raise ConfigError(f"cannot remove {path}: {e.strerror}") from None
    if problem is None:
        _execute(Plan(path, plan.commands[1:]))
    click.echo(f"removed {path}" + (f" ({problem}; nothing was stopped)" if problem else ""))


@service.command("status", help="Whether the service is installed, enabled and running.")
@_platform_opt
@click.option("--json", "-j", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def status(ctx: click.Context, platform: str | None, as_json: bool) -> None:
    platform = platform or _default_platform()
    info = service_status(platform, _home(ctx))
    if as_json:
        from meshctl.render import emit_json

        emit_json(info)
        return
    yn = {True: "yes", False: "no", None: "unknown"}
    click.echo(f"platform:  {platform}")
    click.echo(f"file:      {info['path']} ({'installed' if info['installed'] else 'not installed'})")
    if info["installed"]:
        cur = info["current"]
        click.echo("current:   " + {True: "yes", False: "no (run `meshctl service install` again)",
                                     None: "unknown (meshd not found)"}[cur])
    click.echo(f"enabled:   {yn[info['enabled']]}")
    click.echo(f"running:   {yn[info['running']]}" + (f" (pid {info['pid']})" if info.get("pid") else ""))
    if info["manager"]:
        click.echo(f"manager:   {info['manager']}")


def service_status(platform: str, home: Path) -> dict[str, Any]:
    from meshd.service import LABEL, UNIT_NAME

    path = unit_path(platform)
    installed = path.is_file()
    current: bool | None = None
    if installed:
        try:
            current = path.read_bytes() == render(platform, build_spec(home, find_meshd()))
        except (ConfigError, OSError):
            current = None
    info: dict[str, Any] = {"platform": platform, "path": str(path), "installed": installed, "current": current,
                            "enabled": None, "running": None, "pid": None, "manager": None}
    problem = manager_problem(platform)
    if problem:
        info["manager"] = problem
        return info
    if platform == "systemd":
        enabled = _run(["systemctl", "--user", "is-enabled", UNIT_NAME]).stdout.strip()
        info["enabled"] = enabled in ("enabled", "enabled-runtime", "linked", "alias")
        active = _run(["systemctl", "--user", "is-active", UNIT_NAME]).stdout.strip()
        info["running"] = active == "active"
        pid = _run(["systemctl", "--user", "show", "--property=MainPID", "--value", UNIT_NAME]).stdout.strip()
        info["pid"] = int(pid) if pid.isdigit() and int(pid) > 0 else None
    else:
        p = _run(["launchctl", "print", f"{_gui()}/{LABEL}"])
        info["enabled"] = p.returncode == 0
        state = pid = None
        for line in p.stdout.splitlines():
            k, sep, v = line.strip().partition(" = ")
            if sep and k == "state" and state is None:
                state = v.strip()
            elif sep and k == "pid" and pid is None and v.strip().isdigit():
                pid = int(v.strip())
        info["running"] = state == "running"
        info["pid"] = pid
    return info
