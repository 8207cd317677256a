/**
 * The texts install writes: the rc.d script, the configd actions and the shim that stands in for
 * the stock carp_service_status. They are shell and ini, kept readable as templates with %%NAME%%
 * placeholders (as FreeBSD ports do with SUB_LIST) instead of escaping every `${...}` in a JS
 * template literal.
 */
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
# it would restart it); -S -T send the tool's output (pino JSON logs) to syslog; -c -f detach it
# from the caller's directory and terminal. rc.subr matches the supervisor as "daemon:".
pidfile="/var/run/\${name}.pid"
procname="/usr/sbin/daemon"
command="/usr/sbin/daemon"
command_args="-c -f -r -P \${pidfile} -S -T \${name} -t \${name} \${program} daemon \${config_args}"

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

// configd runs commands through a shell and answers "Execute error" (dropping the output) for any
// non-zero exit status, so "evaluate" turns status 1 (a service failed: a normal result) into 0.
const CONFIGD_ACTIONS = `# configd actions of carp-service-status, installed by "carp-service-status install".
# configd reads this directory when it starts: run "service configd restart" after installing.
#
#   configctl carp_service_status evaluate   evaluate now (through the daemon) and print the table
#   configctl carp_service_status status     the daemon's status as JSON
#
# configd answers "Execute error" for a non-zero exit status, so evaluate maps status 1 (a service
# failed, a normal result) to 0; real errors (2 usage/config, 3 system) stay errors.

[evaluate]
command:%%BINARY%% trigger || [ $? -eq 1 ]
type:script_output
message:carp-service-status evaluating the CARP service checks

[status]
command:%%BINARY%% status --json
type:script_output
message:carp-service-status reading the daemon status
`;

/** The configd action file (`configctl carp_service_status evaluate|status`). */
export function renderConfigdActions(paths: NodePaths = NODE_PATHS): string {
  return fillTemplate(CONFIGD_ACTIONS, { BINARY: paths.binary });
}

// The table goes to /dev/null: the stock script prints nothing, and every demotion or promotion is
// already in syslog (the evaluation logs it itself). What would otherwise be lost is a failure to
// evaluate at all, so that, and only that, is logged here with the tool's last line of stderr.
const SHIM = `#!/bin/sh
%%MARKER%%
#
# Installed by "carp-service-status install --replace-stock", which kept the stock script as
#   %%KEPT%%
# for "carp-service-status uninstall" to put back.
#
# Callers (configctl interface update carp service_status, the boot hook 90-carp, plugins) work
# unchanged: this asks the daemon to evaluate now, or evaluates here when no daemon answers, and
# exits 0 as the stock script does. Its output is discarded like the stock script's; demotions and
# promotions are logged to syslog by the evaluation, and a failure to evaluate (exit status 2 or
# more: bad config, sysctl failure, lock timeout) is logged here.

errors=$(%%BINARY%% trigger 2>&1 >/dev/null)
status=$?
if [ "$status" -ge 2 ]; then
	%%LOGGER%% -t carp-service-status -p daemon.err \\
	    "carp_service_status shim: evaluation failed (exit status $status): $(printf '%s\\n' "$errors" | /usr/bin/tail -n 1)"
fi
exit 0
`;

/** The POSIX sh shim installed in place of the stock /usr/local/sbin/carp_service_status. */
export function renderShim(paths: NodePaths = NODE_PATHS): string {
  return fillTemplate(SHIM, { MARKER: SHIM_MARKER, BINARY: paths.binary, KEPT: paths.keptStock, LOGGER: paths.logger });
}

/** True when a file's text is our shim (any version), not the stock script or a firmware update's. */
export function isShim(text: string): boolean {
  return text.split("\n", 3).includes(SHIM_MARKER);
}
