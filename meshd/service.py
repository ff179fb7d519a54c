"""Service definitions that start `meshd run`: a systemd user unit and a launchd LaunchAgent.

Pure: values in, file text out (no files, no subprocesses; `cli/service_cmd.py` is the adapter that
writes the files and runs systemctl / launchctl). Every value that lands in a unit file goes through
systemd's quoting rules (`systemd.syntax(7)`, `systemd.service(5)`):

- `ExecStart=` words are double-quoted with C escapes (`\\\\`, `\\"`, `\\n`, `\\xNN`) and `%` doubled
  (specifiers); in arguments `$` is doubled too (variable expansion), never in the executable's path,
  which systemd does not expand. systemd refuses an executable path with quotes, backslashes or
  control characters ("Executable name contains special characters"), so those are refused here
  with a hint; spaces, `%`, `$`, `;` and any UTF-8 are fine.
- `Environment=` assignments are double-quoted with C escapes and `%` doubled; `$` means nothing there.
- `ReadWritePaths=` words are double-quoted with `\\` and `"` backslash-escaped and `%` doubled; that
  directive has no C escapes, so a path with a control character is refused (ConfigError).

The plist is produced by `plistlib`, which escapes XML; strings with control characters other than
tab, newline and carriage return cannot be stored in an XML plist and are refused.
"""

from __future__ import annotations

import plistlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from meshd.errors import ConfigError

UNIT_NAME = "meshd.service"
LABEL = "dev.meshd.meshd"
PLIST_NAME = f"{LABEL}.plist"
LOG_NAME = "meshd.log"  # launchd: stdout and stderr of the daemon, in <home>/logs/
# What the daemon's behaviour depends on, passed into the service's environment when set.
ENV_KEYS = ("MESHD_HOME", "CLAUDE_CONFIG_DIR", "CODEX_HOME", "XDG_CONFIG_HOME")


class Raw(str):
    """A value written into a unit file verbatim (a systemd specifier such as `%h/...`); reference files only."""


@dataclass(frozen=True)
class ServiceSpec:
    """What a service definition needs: absolute paths and the environment, already resolved."""

    meshd: str  # absolute path of the meshd executable
    home: str  # absolute data home (MESHD_HOME)
    env: tuple[tuple[str, str], ...] = ()  # (name, value), MESHD_HOME first
    extra_writable: tuple[str, ...] = field(default=())  # e.g. the socket folder when it is outside home
    args: tuple[str, ...] = ("run",)

    @property
    def log_dir(self) -> str:
        return str(PurePosixPath(self.home) / "logs")

    @property
    def log_file(self) -> str:
        return str(PurePosixPath(self.home) / "logs" / LOG_NAME)


def resolve_env(environ: Mapping[str, str], *, home: str, cwd: str, user_home: str) -> tuple[tuple[str, str], ...]:
    """The service environment: MESHD_HOME = home, plus CLAUDE_CONFIG_DIR / CODEX_HOME / XDG_CONFIG_HOME
    when set, with every folder made absolute (a service does not start in the caller's folder)."""

    def absolute(p: str) -> str:
        p = p.strip()
        if p == "~" or p.startswith("~/"):
            p = user_home + p[1:]
        path = PurePosixPath(p)
        return str(path if path.is_absolute() else PurePosixPath(cwd) / path)

    out = [("MESHD_HOME", home)]
    for key in ENV_KEYS[1:]:
        raw = environ.get(key, "")
        if not raw.strip():
            continue
        if key == "CLAUDE_CONFIG_DIR":  # a comma list, as ccusage reads it
            value = ",".join(absolute(p) for p in raw.split(",") if p.strip())
        else:
            value = absolute(raw)
        out.append((key, value))
    return tuple(out)


# ------------------------------------------------------------------------------------------ systemd

_C_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _check_text(value: str, what: str) -> None:
    if "\x00" in value:
        raise ConfigError(f"{what} contains a NUL byte")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ConfigError(f"{what} is not valid UTF-8: {value.encode('utf-8', 'surrogateescape')[:80]!r}",
                          hint="unit files are UTF-8; use a path with a UTF-8 name") from None


def check_path(value: str, what: str) -> None:
    """An absolute path the OS can hold: at most 4095 bytes, 255 per name (PATH_MAX, NAME_MAX)."""
    _check_text(value, what)
    if isinstance(value, Raw):
        return
    if not value.startswith("/"):
        raise ConfigError(f"{what} {value[:60]!r} is not absolute")
    raw = value.encode("utf-8")
    if len(raw) > 4095 or any(len(part) > 255 for part in raw.split(b"/")):
        raise ConfigError(f"{what} is too long ({len(raw)} bytes: at most 4095, and 255 per folder name)",
                          hint="use a shorter path (data home: MESHD_HOME or --home; meshd: --meshd)")


def _c_escape(value: str) -> str:
    out = []
    for ch in value:
        esc = _C_ESCAPES.get(ch)
        if esc is not None:
            out.append(esc)
        elif ch < " " or ch == "\x7f":
            out.append(f"\\x{ord(ch):02x}")
        elif ch == "%":
            out.append("%%")
        else:
            out.append(ch)
    return "".join(out)


_UNSAFE_EXE = set('"\'\\') | {chr(c) for c in range(32)} | {"\x7f"}


def exec_word(value: str, *, executable: bool = False) -> str:
    """One word of ExecStart=: quoted, C-escaped, specifiers neutralized; `$` doubled in arguments
    (systemd expands variables there, never in the executable's path)."""
    if isinstance(value, Raw):
        return str(value)
    _check_text(value, f"command word {value[:60]!r}")
    if executable:
        if not value.startswith("/"):
            raise ConfigError(f"the meshd path {value[:60]!r} is not absolute")
        if any(c in _UNSAFE_EXE for c in value):
            raise ConfigError(f"systemd refuses an executable path with quotes, backslashes or control characters: "
                              f"{value[:80]!r}", hint="pass --meshd with a plain path (a symlink to meshd will do)")
        return '"' + _c_escape(value) + '"'
    return '"' + _c_escape(value).replace("$", "$$") + '"'


def env_assignment(name: str, value: str) -> str:
    """One Environment= assignment, quoted and C-escaped."""
    if not name or not (name[0].isalpha() or name[0] == "_") or not all(c.isalnum() or c == "_" for c in name) \
            or not name.isascii():
        raise ConfigError(f"invalid environment variable name {name[:60]!r}")
    if isinstance(value, Raw):
        return f'"{name}={value}"'
    _check_text(value, f"${name}")
    return '"' + name + "=" + _c_escape(value) + '"'


def path_word(value: str, *, optional: bool = False) -> str:
    """One path of ReadWritePaths= (quoted; this directive has no C escapes). `optional`: '-' prefix."""
    prefix = "-" if optional else ""
    if isinstance(value, Raw):
        return f'"{prefix}{value}"'
    _check_text(value, f"path {value[:60]!r}")
    if any(c < " " or c == "\x7f" for c in value):
        raise ConfigError(f"path {value[:60]!r} contains a control character, which a systemd unit cannot express",
                          hint="choose a data home (MESHD_HOME) without newlines or control characters")
    if not value.startswith("/"):
        raise ConfigError(f"path {value[:60]!r} is not absolute")
    return '"' + prefix + value.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%") + '"'


# Hardening that needs no privileges (seccomp, no_new_privs) applies everywhere. The filesystem and
# kernel protections need a mount namespace: systemd >= 253 sets one up for user units inside an
# implicit user namespace where the kernel allows unprivileged user namespaces, and skips them
# silently where it does not (older systemd, userns disabled, Ubuntu's AppArmor userns restriction).
# Nothing here may stop the daemon from starting on such systems, so there is no explicit
# PrivateUsers=yes (it fails hard without user namespaces) and no PrivateTmp= (the socket may live
# in /tmp, see config.socket_path, and meshctl must reach it). ProtectKernelTunables= and
# ProtectKernelLogs= are left out: in containers (/proc/sys and /dev/kmsg set up by the container
# runtime) they make the unit fail with 226/NAMESPACE, and an unprivileged user can write neither.
_HARDENING = """\
# Hardening a user unit can apply without privileges. The daemon reads the usage logs anywhere
# (~/.claude, ~/.config/claude, CLAUDE_CONFIG_DIR, CODEX_HOME), writes only its data home, and
# talks TCP/UDP on the host network (peer gRPC listener, mDNS multicast) and Unix sockets.
NoNewPrivileges=yes
LockPersonality=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
RestrictNamespaces=yes
SystemCallArchitectures=native
SystemCallFilter=@system-service
SystemCallFilter=~@privileged @resources
SystemCallErrorNumber=EPERM
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK
UMask=0077
KeyringMode=private
# Filesystem and kernel protections (best effort in user units; see docs/services.md).
ProtectSystem=strict
ProtectHome=read-only
ProtectKernelModules=yes
ProtectControlGroups=yes
ProtectHostname=yes
ProtectProc=invisible
"""


def systemd_unit(spec: ServiceSpec) -> str:
    """The text of `~/.config/systemd/user/meshd.service` for this spec."""
    check_path(spec.meshd, "the meshd path")
    check_path(spec.home, "the data home")
    exec_start = " ".join([exec_word(spec.meshd, executable=True), *(exec_word(w) for w in spec.args)])
    writable = [path_word(spec.home, optional=True)] + [path_word(p, optional=True) for p in spec.extra_writable]
    env_lines = "".join(f"Environment={env_assignment(k, v)}\n" for k, v in spec.env)
    return (
        "# meshd as a systemd user unit, written by `meshctl service install`;\n"
        "# `meshctl service uninstall` stops and removes it. Logs: journalctl --user -u meshd\n"
        "[Unit]\n"
        "Description=meshd - peer-to-peer Claude Code usage mesh\n"
        "Documentation=https://github.com/meshd/meshd/blob/main/docs/services.md\n"
        # No network-online.target: a user manager cannot see system targets; meshd copes with
        # networks that come and go (peer backoff, mDNS re-query).
        "StartLimitIntervalSec=300\n"
        "StartLimitBurst=5\n"
        "\n"
        "[Service]\n"
        "Type=exec\n"
        f"ExecStart={exec_start}\n"
        f"{env_lines}"
        "Restart=on-failure\n"
        "RestartSec=5\n"
        "TimeoutStopSec=20\n"
        "\n"
        f"{_HARDENING}"
        f"ReadWritePaths={' '.join(writable)}\n"
        "\n"
        "[Install]\n"
        "WantedBy=default.target\n"
    )


# ------------------------------------------------------------------------------------------ launchd

def launchd_plist(spec: ServiceSpec) -> bytes:
    """The bytes of `~/Library/LaunchAgents/dev.meshd.meshd.plist` for this spec."""
    check_path(spec.meshd, "the meshd path")
    check_path(spec.home, "the data home")
    for k, v in ((None, spec.meshd), (None, spec.home), *spec.env):
        _check_text(v, f"${k}" if k else repr(v[:60]))
    doc = {
        "Label": LABEL,
        "ProgramArguments": [spec.meshd, *spec.args],
        "EnvironmentVariables": dict(spec.env),
        "RunAtLoad": True,
        "KeepAlive": {"SuccessfulExit": False},  # restart when it exits with an error or a signal
        "ThrottleInterval": 10,
        "ProcessType": "Background",
        "Umask": 0o077,
        "WorkingDirectory": spec.home,
        "StandardOutPath": spec.log_file,
        "StandardErrorPath": spec.log_file,
    }
    try:
        body = plistlib.dumps(doc, fmt=plistlib.FMT_XML, sort_keys=True)
    except ValueError as e:
        raise ConfigError(f"cannot write the LaunchAgent: {e}",
                          hint="paths and environment values must not contain control characters") from None
    comment = (b"<!-- meshd as a launchd LaunchAgent, written by `meshctl service install`; "
               b"`meshctl service uninstall` unloads and removes it. -->\n")
    head, sep, rest = body.partition(b"<plist ")
    return head + comment + sep + rest


# ------------------------------------------------------------------------------------ reference files

def reference_spec() -> ServiceSpec:
    """The example the repository's systemd/ and launchd/ files show (a pipx install, default home)."""
    return ServiceSpec(meshd=Raw("%h/.local/bin/meshd"), home=Raw("%h/.local/share/meshd"),
                       env=(("MESHD_HOME", Raw("%h/.local/share/meshd")),))


def reference_plist_spec() -> ServiceSpec:
    return ServiceSpec(meshd="/Users/you/.local/bin/meshd", home="/Users/you/Library/Application Support/meshd",
                       env=(("MESHD_HOME", "/Users/you/Library/Application Support/meshd"),))
