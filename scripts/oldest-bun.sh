#!/usr/bin/env bash
# Prints the path of Bun 1.3.14, the oldest Bun we support and the one FreeBSD ports ship as
# lang/bun, installing npm's bun@1.3.14 (it runs on Linux) into .cache/ when it is not there yet.
# BUN_1_3_14 names one installed elsewhere. Exits non-zero, saying why, when it cannot.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
version=1.3.14

if [ -n "${BUN_1_3_14:-}" ]; then
  bun=$BUN_1_3_14
else
  prefix=$repo/.cache/bun-$version
  bun=$prefix/node_modules/.bin/bun
  if ! [ -x "$bun" ] || [ "$("$bun" --version 2>/dev/null)" != "$version" ]; then
    echo "oldest-bun: installing bun@$version from npm into $prefix" >&2
    mkdir -p "$prefix"
    npm install --prefix "$prefix" --no-save --no-audit --no-fund "bun@$version" >&2 ||
      { echo "oldest-bun: npm could not install bun@$version" >&2; exit 1; }
  fi
fi
found=$("$bun" --version 2>/dev/null || true)
[ "$found" = "$version" ] || { echo "oldest-bun: $bun is Bun ${found:-missing}, not $version" >&2; exit 1; }
echo "$bun"
