#!/usr/bin/env bash
# The test command (`bun run test`): sets up what the tests need (scripts/test-setup.sh), then runs
# the whole suite under each Bun we support: this one, and 1.3.14, the one FreeBSD ports ship as
# lang/bun (scripts/oldest-bun.sh installs it from npm when missing). Arguments go to `bun test`
# (a file or a name filter). Exits non-zero when the setup or either run fails.
set -uo pipefail
cd "$(dirname "$0")/.."

bash scripts/test-setup.sh || exit 1
oldest=$(bash scripts/oldest-bun.sh) || exit 1
export BUN_1_3_14=$oldest

status=0
for runtime in "$(command -v bun)" "$oldest"; do
  echo "== bun test under Bun $("$runtime" --version) ($runtime)"
  "$runtime" test --timeout 30000 "$@" || status=1
done
exit "$status"
