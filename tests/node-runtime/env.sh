# shellcheck shell=bash
# Source this: it puts the project's pinned Node and npm (this folder's
# node_modules/.bin, installed by deploy/deps.sh from package-lock.json) first
# in PATH, so every `node` and `npm` a script runs is that one, whatever Node
# the system has. The Makefile does the same for everything make runs.
# Returns 1, saying so, when the runtime is not installed yet.
SGID_NODE_BIN=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/node_modules/.bin
case ":$PATH:" in
  *":$SGID_NODE_BIN:"*) ;;
  *) PATH=$SGID_NODE_BIN:$PATH ;;
esac
export PATH
if [[ ! -x $SGID_NODE_BIN/node ]]; then
  printf '%s\n' "error: the pinned Node (tests/node-runtime) is not installed: run deploy/deps.sh (make deps)" >&2
  return 1
fi
