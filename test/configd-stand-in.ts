/**
 * A stand-in for OPNsense's configd, as far as an action's outcome goes (read from opnsense/core,
 * src/opnsense/service/modules/actions/script.py and script_output.py): the command runs through
 * a shell with configd's environment, and
 *   - `script`: exit 0 answers "OK"; anything else logs "[uuid] returned exit status N" as an
 *     error and answers "Error (N)";
 *   - `script_output`: answers stdout; any stderr output is logged as an error ("Script action
 *     stderr returned ..." cut at 255 bytes); a non-zero exit logs a traceback as an error and
 *     answers "Execute error".
 */

/** configd's action environment (configd.conf [environment]). */
const CONFIGD_ENV = {
  PATH: "/sbin:/bin:/usr/sbin:/usr/bin:/usr/local/sbin:/usr/local/bin",
  REQUESTS_CA_BUNDLE: "/usr/local/etc/ssl/cert.pem",
  HOME: "/",
};

export interface ActionOutcome {
  /** What configctl prints. */
  reply: string;
  /** What configd logs at LOG_ERR. */
  errors: string[];
}

/** One action run as configd runs it. */
export async function runConfigdAction(type: "script" | "script_output", command: string): Promise<ActionOutcome> {
  const proc = Bun.spawn(["/bin/sh", "-c", command], { cwd: "/", env: CONFIGD_ENV, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, exitCode] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  const uuid = "00000000-0000-0000-0000-000000000000";
  if (type === "script") {
    return exitCode === 0
      ? { reply: "OK", errors: [] }
      : { reply: `Error (${exitCode})`, errors: [`[${uuid}] returned exit status ${exitCode}`] };
  }
  if (exitCode !== 0) {
    return {
      reply: "Execute error",
      errors: [`[${uuid}] Script action failed with Command '${command}' returned non-zero exit status ${exitCode}. at Traceback (...)`],
    };
  }
  const errors = stderr.length > 0 ? [`[${uuid}] Script action stderr returned "${stderr.trim().slice(0, 255)}"`] : [];
  return { reply: stdout, errors };
}

/** The [section] commands and types of an actions file. */
export function parseActions(text: string): Record<string, { command: string; type: string }> {
  const actions: Record<string, { command: string; type: string }> = {};
  let current: { command: string; type: string } | undefined;
  for (const line of text.split("\n")) {
    const section = /^\[(.+)\]$/.exec(line);
    if (section) actions[section[1]!] = current = { command: "", type: "" };
    else if (current && /^(command|type):/.test(line)) {
      const at = line.indexOf(":");
      current[line.slice(0, at) as "command" | "type"] = line.slice(at + 1);
    }
  }
  return actions;
}
