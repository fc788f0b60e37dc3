#!/usr/bin/env bash
# (r) Redis over TLS (issue 24): redis-restart (a clean restart and a crash
# under load, nothing lost) and, without FAULTS_QUICK (make check keeps this
# under a minute; test_redis_tls covers Sentinel and a cluster over TLS
# there), sentinel (failover under load, AUTH, ACL user, db) and cluster
# (resharding and a primary killed under load) run again with
# FAULTS_REDIS_TLS=1: every redis-server and
# sentinel on tls-ports only (cluster bus and replication too), the app on
# rediss:// verified against a CA made for the run.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export FAULTS_REDIS_TLS=1
tests=(redis-restart)
((${FAULTS_QUICK:-0})) || tests+=(sentinel cluster)
rc=0
for t in "${tests[@]}"; do
  "$here/$t.sh" || rc=1
done
exit "$rc"
