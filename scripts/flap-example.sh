#!/usr/bin/env bash
# Prints the worked example of docs/flap-control.md ("A worked example") from a real run: FRR's OSPF
# check with fall 3, rise 2 and a 60 s hold-down, on the simulated sysctl, in a scratch directory.
# Usage: bash scripts/flap-example.sh
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
chmod 755 "$dir"
mkdir -m 755 "$dir/hooks"
cat > "$dir/hooks/frr_ospf" <<HOOK
#!/bin/sh
# Stands in for hooks/examples/frr_ospf_full: the neighbour is down while the file exists.
if [ -e "$dir/ospf-down" ]; then echo "neighbour 10.0.0.2 not Full"; exit 2; fi
echo "neighbour 10.0.0.2 Full"
HOOK
printf '#!/bin/sh\necho "unbound answers on 127.0.0.1:53"\n' > "$dir/hooks/unbound"
chmod 755 "$dir/hooks/frr_ospf" "$dir/hooks/unbound"
cat > "$dir/carp.toml" <<CONFIG
hooksDir = "$dir/hooks"
sysctl = "simulated"
logger = "simulated"
simulationFile = "$dir/demotion"
simulationLog = "$dir/messages"
lockFile = "$dir/lock"
stateFile = "$dir/state"
maintenanceFile = "$dir/maintenance"
logLevel = "warn"
promoteDelayMs = 60000

[hooks."frr_ospf"]
fall = 3
rise = 2
timeoutMs = 3000
CONFIG

check() {
  echo "\$ carp-service-status check          # $1"
  bun "$repo/src/cli.ts" check --config "$dir/carp.toml" 2>/dev/null || true
  echo
}
touch "$dir/ospf-down"
check "the neighbour went down"
rm "$dir/ospf-down"
check "Full again: one passing run of two"
check "counts as passing: the hold-down starts"
