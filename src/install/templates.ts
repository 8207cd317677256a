/**
 * The texts install writes: the rc.d script, the configd actions, the CARP event hook, the
 * gateway alarm hook and the shim that stands in for the stock carp_service_status. They are shell and ini, kept readable as
 * templates with %%NAME%% placeholders (as FreeBSD ports do with SUB_LIST) instead of escaping
 * every `${...}` in a JS template literal.
 */
import { REPLY_IDLE_TIMEOUT_MS } from "../protocol/wire.ts";
import { NODE_PATHS, type NodePaths } from "./layout.ts";

/** A line only our shim contains: how install and uninstall tell it from the stock script. */
export const SHIM_MARKER = "# carp-service-status shim: replaces the stock carp_service_status";

/** Replaces every %%NAME%%; a placeholder without a value is a bug, so it throws. */
export function fillTemplate(template: string, values: Record<string, string>): string {
  return template.replace(/%%([A-Z_]+)%%/g, (_, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`Template placeholder "%%${name}%%" has no value`);
    return value;
  });
}

// OPNsense's rc.opnsense finds the service by grepping the first line matching `name *=` and the
// lines matching `rcvar *=`, then evals them: `name=` must come before `procname=`, and no comment
// may contain either pattern.
const RC_SCRIPT = `#!/bin/sh
#
# PROVIDE: carp_service_status
# REQUIRE: LOGIN
# KEYWORD: shutdown
#
# The carp-service-status daemon: runs the CARP service checks on its schedule and when
# triggered, and demotes this node while one fails. Installed by "carp-service-status install".
#
# Settings (on OPNsense in /etc/rc.conf.d/carp_service_status):
# carp_service_status_enable (bool): "YES" runs the daemon. Default "NO".
# carp_service_status_config (path): the config file, used when it exists
#     (built-in defaults otherwise). Default "%%CONFIG%%".

. /etc/rc.subr

name="carp_service_status"
rcvar="carp_service_status_enable"

load_rc_config "$name"

: "\${carp_service_status_enable:=NO}"
: "\${carp_service_status_config:=%%CONFIG%%}"

program="%%BINARY%%"
config_args=""
if [ -f "\${carp_service_status_config}" ]; then
	config_args="--config \${carp_service_status_config}"
fi

# daemon(8) supervises the tool: -r restarts it if it ever exits; -P records the supervisor's
# pid, so "stop" signals the supervisor, which stops the child instead of restarting it (with -p
# it would restart it); -c -f detach it from the caller's directory and terminal. The tool logs to
# syslog itself (--syslog: a priority per line), so -S -T only pass on what a crash prints.
# rc.subr matches the supervisor as "daemon:".
pidfile="/var/run/\${name}.pid"
procname="/usr/sbin/daemon"
command="/usr/sbin/daemon"
command_args="-c -f -r -P \${pidfile} -S -T carp-service-status -t \${name} \${program} daemon --syslog \${config_args}"

extra_commands="reload"
start_precmd="carp_service_status_prestart"
stop_precmd="carp_service_status_prestop"
stop_postcmd="carp_service_status_poststop"
status_postcmd="carp_service_status_poststatus"
reload_cmd="carp_service_status_reload"

# daemon(8) would restart a tool that exits on a bad config every second: validate before starting.
carp_service_status_prestart()
{
	# shellcheck disable=SC2086 # config_args is empty or two words
	\${program} config \${config_args} >/dev/null
}

# The supervisor exits as soon as it has passed SIGTERM on; wait for the tool too, so that a
# restart does not find the old daemon still holding the socket.
carp_service_status_prestop()
{
	child_pids=$(pgrep -P "\${rc_pid}")
}

carp_service_status_poststop()
{
	# shellcheck disable=SC2086 # a list of pids
	[ -z "\${child_pids}" ] || wait_for_pids \${child_pids}
}

# After rc.subr's "is running as pid N": the daemon's own view (last results, demotion).
carp_service_status_poststatus()
{
	# shellcheck disable=SC2086 # config_args is empty or two words
	\${program} status \${config_args}
}

# SIGHUP makes the tool re-read its config, but daemon(8) does not pass it on (it would die of it):
# signal the child.
carp_service_status_reload()
{
	if [ -z "\${rc_pid}" ]; then
		echo "\${name} is not running."
		return 1
	fi
	echo "Reloading \${name} config file."
	pkill -HUP -P "\${rc_pid}"
}

run_rc_command "$1"
`;

/** The rc.d script: daemon(8) supervising `carp-service-status daemon`. */
export function renderRcScript(paths: NodePaths = NODE_PATHS): string {
  return fillTemplate(RC_SCRIPT, { BINARY: paths.binary, CONFIG: paths.config });
}

// configd logs a script_output action's stderr as an error and answers "Execute error" for a
// non-zero exit status: `configd ACTION` writes nothing to stderr and exits 0 in every expected
// state (see src/cli/configd.ts).
const CONFIGD_ACTIONS = `# configd actions of carp-service-status, installed by "carp-service-status install".
# configd reads this directory when it starts: run "service configd restart" after installing.
#
#   configctl carp_service_status evaluate   evaluate now (through the daemon) and print the table
#   configctl carp_service_status status     the daemon's status as JSON
#
# Both print their answer and exit 0 whether services pass or fail and whether the daemon runs;
# a failure to evaluate is printed and logged to syslog (ident carp-service-status).

[evaluate]
command:%%BINARY%% configd evaluate
parameters:
type:script_output
message:carp-service-status evaluating the CARP service checks

[status]
command:%%BINARY%% configd status
parameters:
type:script_output
message:carp-service-status reading the daemon status
`;

/** The configd action file (`configctl carp_service_status evaluate|status`). */
export function renderConfigdActions(paths: NodePaths = NODE_PATHS): string {
  return fillTemplate(CONFIGD_ACTIONS, { BINARY: paths.binary });
}

/** One request line for nc(1): the daemon answers and closes; printf turns the escapes into CR LF. */
const EVALUATE_REQUEST = "POST /evaluate HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n";

/**
 * nc's -w is an idle timeout (no byte either way for that long), as long as a client's reply
 * deadline: the daemon sends an interim "102 Processing" every second while it evaluates, so an
 * evaluation of any length is waited for, and a stopped or wedged daemon is given up on.
 */
const NC_IDLE_S = String(REPLY_IDLE_TIMEOUT_MS / 1000);

/**
 * The shell test for a final "200 OK" in nc's output: first, or after interim replies (each ends
 * in an empty line, so the final status line follows a newline). No other line of a reply starts
 * so: the headers are the daemon's own, and a JSON body holds no raw newline.
 */
const ANSWERED_200 = `"HTTP/1.1 200 "* | *"
HTTP/1.1 200 "*`;

// Output is discarded, as the stock script's is: demotions and promotions are in syslog already,
// and so is a failure to evaluate (the executable logs it).
const SHIM = `#!/bin/sh
%%MARKER%%
#
# Installed by "carp-service-status install --replace-stock", which kept the stock script as
#   %%KEPT%%
# for "carp-service-status uninstall" to put back.
#
# Callers (configctl interface update carp service_status, the boot hook 90-carp, plugins) work
# unchanged: like the stock script this evaluates the service checks, prints nothing and exits 0.
#
# Warm path, without starting the executable: nc(1) asks the daemon on its socket to evaluate now
# and waits for its answer. The daemon sends "102 Processing" every second while it evaluates, and
# nc gives up after %%WAIT_S%% s without a byte, so a long evaluation is waited for and a stopped
# daemon costs seconds. Anything but a final "200 OK" (no socket yet, as at boot; a connection
# refused, reset or silent; a daemon shutting down, or one that could not evaluate) falls back to
# the executable, which asks again or evaluates here (the stock lock keeps that safe next to the
# daemon's own run), and logs a failure to syslog.

if [ -S %%SOCKET%% ]; then
	reply=$(printf '%%REQUEST%%' | %%NC%% -U -w %%WAIT_S%% %%SOCKET%% 2>/dev/null)
	case $reply in
	%%ANSWERED%%) exit 0 ;;
	esac
fi
%%BINARY%% configd evaluate >/dev/null
exit 0
`;

/** The POSIX sh shim installed in place of the stock /usr/local/sbin/carp_service_status. */
export function renderShim(paths: NodePaths = NODE_PATHS): string {
  return fillTemplate(SHIM, {
    MARKER: SHIM_MARKER,
    BINARY: paths.binary,
    KEPT: paths.keptStock,
    NC: paths.nc,
    SOCKET: paths.socket,
    REQUEST: EVALUATE_REQUEST,
    ANSWERED: ANSWERED_200,
    WAIT_S: NC_IDLE_S,
  });
}

// rc.syshook runs the scripts of a level one after another and reports a non-zero exit status as
// an error, so the event hooks put their work in the background and return 0 at once. Both run the
// same body, with the same marks: a CARP event and a gateway alarm that come while an evaluation
// runs here share the one evaluation after it.
const EVALUATE_IN_BACKGROUND = `(
	reply=$([ -S %%SOCKET%% ] && printf '%%REQUEST%%' | %%NC%% -U -w %%WAIT_S%% %%SOCKET%% 2>/dev/null)
	case $reply in
	%%ANSWERED%%) exit 0 ;;
	esac
	: >%%MARK%%.pending
	find %%MARK%%.busy -maxdepth 0 -mmin +10 -exec rmdir {} \\; 2>/dev/null
	# An event that finds the mark busy leaves its pending mark to the holder, which looks again
	# after letting go of the busy mark: an event in that moment is never left unanswered.
	while mkdir %%MARK%%.busy 2>/dev/null; do
		while [ -e %%MARK%%.pending ]; do
			rm -f %%MARK%%.pending
			%%BINARY%% configd evaluate >/dev/null 2>&1
		done
		rmdir %%MARK%%.busy
		[ -e %%MARK%%.pending ] || break
	done
) </dev/null >/dev/null 2>&1 &
exit 0
`;

const SYSHOOK = `#!/bin/sh
# carp-service-status: CARP event hook, installed by "carp-service-status install".
#
# devd runs "configctl interface carp VHID@IF TYPE" on every CARP state change (MASTER, BACKUP,
# INIT), leaving maintenance mode included; OPNsense then runs each script in this directory in
# name order as SCRIPT VHID@IF TYPE. This one asks the daemon to evaluate at once, so a demotion
# reset by leaving maintenance mode is put right now, not at the next scheduled run. It never
# waits: the request goes out in the background and the script returns at once, so the scripts
# after it and the event chain never wait on the service checks. Unless the daemon answers
# "200 OK" (none listening; the connection refused or reset; no byte for %%WAIT_S%% s, as from a
# stopped daemon, while a working one sends "102 Processing" every second), the executable
# evaluates here, in the background too, bounded by its own timeouts: one evaluation at a time,
# and one more after it when events came while it ran, however many came (a mark older than
# 10 minutes is stale).

${EVALUATE_IN_BACKGROUND}`;

const MONITOR_HOOK = `#!/bin/sh
# carp-service-status: gateway alarm hook, installed by "carp-service-status install".
#
# OPNsense's gateway watcher raises an alarm when dpinger sees a gateway change state in a way
# routing acts on (a gateway group's trigger level, or default gateway switching); configd's
# "interface routes alarm" then runs rc.routing_configure, which runs "rc.syshook monitor
# GW[,GW...]": each script in this directory, in name order, as SCRIPT GW[,GW...]. This one asks
# the daemon to evaluate at once, so the gateway checks ([gateways."NAME"]) see the new status
# now, not at the next scheduled run; it needs no names, as every evaluation reads every
# gateway's status.
#
# It never waits, exactly as the CARP event hook (../carp/50-carp-service-status): the request
# goes out in the background and the script returns at once, so routing's reconfiguration never
# waits on the checks. Unless the daemon answers "200 OK" (none listening; the connection refused
# or reset; no byte for %%WAIT_S%% s, as from a stopped daemon, while a working one sends
# "102 Processing" every second), the executable evaluates here, in the background too: one
# evaluation at a time, shared with CARP events (the same marks), and one more after it when
# alarms or events came while it ran, however many came (a mark older than 10 minutes is stale).

${EVALUATE_IN_BACKGROUND}`;

/** The values both event hooks are filled in with. */
function eventHookValues(paths: NodePaths): Record<string, string> {
  return {
    BINARY: paths.binary,
    NC: paths.nc,
    SOCKET: paths.socket,
    REQUEST: EVALUATE_REQUEST,
    ANSWERED: ANSWERED_200,
    WAIT_S: NC_IDLE_S,
    MARK: paths.syshookMark,
  };
}

/** The rc.syshook.d/carp script: a CARP state change triggers an evaluation, without waiting for it. */
export function renderSyshook(paths: NodePaths = NODE_PATHS): string {
  return fillTemplate(SYSHOOK, eventHookValues(paths));
}

/**
 * The rc.syshook.d/monitor script: a gateway alarm triggers an evaluation, without waiting for
 * it, exactly as a CARP event does (the same request, fallback and marks).
 */
export function renderMonitorHook(paths: NodePaths = NODE_PATHS): string {
  return fillTemplate(MONITOR_HOOK, eventHookValues(paths));
}

/** True when a file's text is our shim (any version), not the stock script or a firmware update's. */
export function isShim(text: string): boolean {
  return text.split("\n", 3).includes(SHIM_MARKER);
}
