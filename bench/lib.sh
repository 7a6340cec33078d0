# SPDX-License-Identifier: GPL-2.0-or-later
# Helpers the benchmark scripts share.

# stop PID: SIGTERM, wait up to 10 s, then SIGKILL; nothing to do for an empty PID.
stop () {
  local pid=$1 deadline=$((SECONDS + 10))
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.05; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
