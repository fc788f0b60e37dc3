#!/usr/bin/env bash
# Runs a command in a private network namespace with only loopback up, so
# test stacks (fixed ports 5001, 5156, 5157, 5173) never collide with a
# `make run` or another suite on this machine, and cannot reach anything
# but themselves. Falls back to the host's namespace when unshare is not
# permitted (not root), where the scripts still refuse busy ports.
# Inside, outgoing connections take their local ports from 40000 up, so a
# busy load never holds a test's fixed port (the cluster's bus ports
# 36400-36405 sit in Linux's default range, 32768-60999).
set -euo pipefail
if [[ ${SGID_NO_NETNS:-} != 1 ]] && unshare -n true 2>/dev/null && command -v ip >/dev/null; then
	exec unshare -n bash -c 'ip link set lo up && echo "40000 60999" >/proc/sys/net/ipv4/ip_local_port_range &&
		exec "$@"' netns "$@"
fi
exec "$@"
