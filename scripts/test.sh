#!/usr/bin/env bash
# The test command (`bun run test`): sets up what the tests need (scripts/test-setup.sh), then runs
# the whole suite. Arguments go to `bun test` (a file or a name filter).
set -uo pipefail
cd "$(dirname "$0")/.."

bash scripts/test-setup.sh || exit 1
echo "== bun test under Bun $(bun --version)"
exec bun test --timeout 30000 "$@"
