#!/usr/bin/env bash
# Run a command in a private sandbox: new network, mount and PID namespaces (a user namespace too
# when not root), a private tmpfs on /run (so `ip netns add` names are private), and only `lo` up.
#
#   tools/isolated.sh python -m pytest -m netns
#
# - Namespace names cannot clash with concurrent runs, and nothing in the sandbox can reach the
#   machine's real network: a stray connect to a test address fails with "Network is unreachable".
# - When the command exits or the sandbox is killed (even with SIGKILL), every process in it dies
#   and every namespace it made disappears with it.
# - The command's exit code is passed through.
set -u
if [ "$#" -eq 0 ]; then
  echo "usage: $0 CMD [ARGS...]" >&2
  exit 2
fi
R=""
[ "$(id -u)" != 0 ] && R="-r"
exec unshare $R --net --mount --pid --fork --kill-child --mount-proc --propagation private \
  bash -c 'mount -t tmpfs tmpfs /run && mkdir -p /run/netns && ip link set lo up && exec "$@"' isolated "$@"
