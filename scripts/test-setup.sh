#!/usr/bin/env bash
# What the test suite needs beyond Bun, installed when missing (the README's test command and
# .ci/run run this first). Exits non-zero, naming what is missing, when something cannot be
# installed: a missing tool must fail the run, never let its tests skip.
#
#   shellcheck          the installed shell scripts (rc.d, shim, syshooks)
#   tmux                status --watch in a real terminal
#   prometheus          promtool, Prometheus' own parser for the metrics text
#   netcat-openbsd      FreeBSD's base nc, which the shim and the syshooks call
#   strace              injected faults in install's transaction tests
#   faketime            a stepped wall clock under a real daemon
# and, through scripts/opnsense-testenv.sh, PHP, PHPUnit, jinja2, xmllint, Chromium and the
# OPNsense trees for the plugin's tests.
set -uo pipefail
cd "$(dirname "$0")/.."

fail() {
  echo "test-setup: $*" >&2
  exit 1
}

missing=()
for pair in shellcheck:shellcheck tmux:tmux promtool:prometheus strace:strace faketime:faketime; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
done
{ command -v nc >/dev/null 2>&1 && nc -h 2>&1 | grep -q "OpenBSD netcat"; } || missing+=(netcat-openbsd)

if [ ${#missing[@]} -gt 0 ]; then
  command -v apt-get >/dev/null 2>&1 || fail "missing ${missing[*]} and no apt-get to install them: install these Debian packages (or their equivalents)"
  echo "test-setup: installing ${missing[*]} with apt-get"
  # promtool only: prometheus recommends the exporters, which would start services.
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >/tmp/test-setup-apt.log 2>&1; then
    tail -n 20 /tmp/test-setup-apt.log >&2
    fail "apt-get could not install ${missing[*]} (log above)"
  fi
fi

bash scripts/opnsense-testenv.sh || fail "the OPNsense test environment could not be set up (scripts/opnsense-testenv.sh)"
