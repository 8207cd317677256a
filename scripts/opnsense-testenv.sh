#!/usr/bin/env bash
# The test environment of the OPNsense plugin: the real OPNsense code and the tools that run it.
#
#   scripts/opnsense-testenv.sh
#
# 1. Installs, with apt-get, whatever of these Debian packages is missing: php-cli php-xml
#    php-mbstring phpunit python3-jinja2 libxml2-utils chromium bmake (BSD make, for the plugin
#    Makefiles' plugins.mk: the package's files and scripts).
# 2. Unpacks the pinned tarballs of opnsense/core and opnsense/plugins (opnsense-core-*.tar.gz,
#    opnsense-plugins-*.tar.gz) from the third-party directory into .opnsense-testenv/core and
#    .opnsense-testenv/plugins (gitignored). A tree already unpacked from the same tarball is kept.
# 3. Writes .opnsense-testenv/env.json: where each tree and tool is, for test/plugin/.
#
# Environment: OPNSENSE_THIRD_PARTY, the directory of the tarballs (default ../shared/third-party
# relative to the repository root); OPNSENSE_TESTENV, where to unpack (default .opnsense-testenv
# in the repository root; test/plugin/ reads the same variable).
#
# Exit status 0 when everything is in place; 1, with a message saying what is missing and how to
# get it, otherwise. The plugin's tests fail (they never skip) until this has run.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
third_party=${OPNSENSE_THIRD_PARTY:-$repo/../shared/third-party}
testenv=${OPNSENSE_TESTENV:-$repo/.opnsense-testenv}

fail() {
	echo "opnsense-testenv: $*" >&2
	exit 1
}

# A python3 whose jinja2 configd's template engine can import: Debian's first (python3-jinja2
# installs there), then whatever python3 is first on PATH.
find_python() {
	local candidate
	for candidate in /usr/bin/python3 "$(command -v python3 2>/dev/null || true)"; do
		if [ -n "$candidate" ] && [ -x "$candidate" ] && "$candidate" -c 'import jinja2' >/dev/null 2>&1; then
			echo "$candidate"
			return 0
		fi
	done
	return 1
}

# php -m read whole first: grep -q quitting early would fail the pipe under pipefail.
php_modules=$(php -m 2>/dev/null || true)
php_has() {
	grep -qix "$1" <<<"$php_modules"
}

missing=()
command -v php >/dev/null 2>&1 || missing+=(php-cli)
{ php_has dom && php_has simplexml; } || missing+=(php-xml)
php_has mbstring || missing+=(php-mbstring)
command -v phpunit >/dev/null 2>&1 || missing+=(phpunit)
find_python >/dev/null || missing+=(python3-jinja2)
command -v xmllint >/dev/null 2>&1 || missing+=(libxml2-utils)
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v bmake >/dev/null 2>&1 || missing+=(bmake)

if [ ${#missing[@]} -gt 0 ]; then
	command -v apt-get >/dev/null 2>&1 || fail "missing ${missing[*]}, and there is no apt-get to install them: install these Debian packages (or their equivalents) by hand"
	echo "opnsense-testenv: installing ${missing[*]} with apt-get"
	log=$(mktemp)
	if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
		tail -n 20 "$log" >&2
		rm -f "$log"
		fail "apt-get could not install ${missing[*]} (as root, with Debian's package lists reachable)"
	fi
	rm -f "$log"
	php_modules=$(php -m 2>/dev/null || true)
	{ php_has dom && php_has simplexml && php_has mbstring; } || fail "php lacks dom, simplexml or mbstring after installing php-xml and php-mbstring"
fi

php=$(command -v php) || fail "php not found after installing php-cli"
phpunit=$(command -v phpunit) || fail "phpunit not found after installing phpunit"
python=$(find_python) || fail "no python3 can import jinja2 after installing python3-jinja2"
xmllint=$(command -v xmllint) || fail "xmllint not found after installing libxml2-utils"
[ -x /usr/bin/chromium ] || fail "/usr/bin/chromium not found after installing chromium"
bmake=$(command -v bmake) || fail "bmake not found after installing bmake"

[ -d "$third_party" ] || fail "no third-party directory at \"$third_party\" (set OPNSENSE_THIRD_PARTY to the directory holding opnsense-core-*.tar.gz and opnsense-plugins-*.tar.gz)"

# The one tarball matching a pattern, or a clear failure.
one_tarball() {
	local matches=()
	local file
	for file in "$third_party"/$1; do
		[ -f "$file" ] && matches+=("$file")
	done
	[ ${#matches[@]} -eq 1 ] || fail "expected exactly one $1 in \"$third_party\", found ${#matches[@]}"
	echo "${matches[0]}"
}

# Unpacks a tarball into $testenv/NAME unless that tree came from the same tarball (the stamp
# holds its name and size); a fresh tree is unpacked beside it and renamed, so an interrupted run
# never leaves half a tree that looks complete.
unpack() {
	local name=$1 tarball=$2
	local target=$testenv/$name
	local stamp
	stamp="$(basename "$tarball") $(wc -c <"$tarball")"
	if [ -f "$target/.unpacked-from" ] && [ "$(cat "$target/.unpacked-from")" = "$stamp" ]; then
		return 0
	fi
	rm -rf "$target.new"
	mkdir -p "$target.new"
	tar -xzf "$tarball" -C "$target.new" || fail "cannot unpack \"$tarball\""
	echo "$stamp" >"$target.new/.unpacked-from"
	rm -rf "$target"
	mv "$target.new" "$target"
	echo "opnsense-testenv: unpacked $(basename "$tarball") into $target"
}

mkdir -p "$testenv"
core_tarball=$(one_tarball 'opnsense-core-*.tar.gz')
plugins_tarball=$(one_tarball 'opnsense-plugins-*.tar.gz')
unpack core "$core_tarball"
unpack plugins "$plugins_tarball"

for path in core/src/opnsense/mvc/tests/setup.php core/src/opnsense/service/template_ctl.py \
	core/src/opnsense/www/js/widgets/BaseTableWidget.js plugins/Mk/plugins.mk; do
	[ -f "$testenv/$path" ] || fail "\"$testenv/$path\" is missing: is \"$third_party\" the right third-party directory?"
done

json_string() {
	"$python" -c 'import json, sys; print(json.dumps(sys.argv[1]))' "$1"
}

cat >"$testenv/env.json.new" <<EOF
{
  "core": $(json_string "$testenv/core"),
  "plugins": $(json_string "$testenv/plugins"),
  "php": $(json_string "$php"),
  "phpunit": $(json_string "$phpunit"),
  "python": $(json_string "$python"),
  "xmllint": $(json_string "$xmllint"),
  "chromium": "/usr/bin/chromium",
  "bmake": $(json_string "$bmake")
}
EOF
mv "$testenv/env.json.new" "$testenv/env.json"
echo "opnsense-testenv: ready ($testenv/env.json)"
