/**
 * doctor's look at the kernel and the lock: the demotion oid readable, the demotion decoded,
 * net.inet.carp.preempt (without it demotion moves nothing), and the stock script's lock file.
 * The findings are pure functions of what was read; the reads are separate.
 */
import { messageOf } from "../common/errors.ts";
import { DEMOTION_OID, PREEMPT_OID } from "../config/defaults.ts";
import { explainDemotion } from "../engine/demotion.ts";
import { acquireLock } from "../system/lock-file.ts";
import { type Finding, finding } from "./finding.ts";

export { PREEMPT_OID };

/** How long doctor waits for the lock: an evaluation holds it for milliseconds. */
const LOCK_WAIT_MS = 1000;

/**
 * Where the values doctor read come from when the config says `sysctl = "simulated"`: a file, not
 * a kernel. On a node with CARP that is a slip (the daemon would demote nothing real).
 */
export interface Simulated {
  file: string;
  onCarpNode: boolean;
}

/** How a simulated value is flagged: info on a machine without CARP, a warning on one with it. */
function simulatedFinding(check: string, detail: string, simulated: Simulated): Finding {
  if (!simulated.onCarpNode) return finding(check, "info", `${detail}: not a kernel's value (no CARP on this machine)`);
  return finding(
    check,
    "warn",
    `${detail}: not this node's kernel; the daemon would demote nothing real`,
    'remove sysctl = "simulated" from the config',
  );
}

/** The demotion oid as read (a number), or the error reading it; `simulated` when it came from the simulation. */
export function sysctlFinding(read: number | Error, simulated: Simulated | null = null): Finding {
  if (read instanceof Error) {
    return finding(
      "sysctl",
      "problem",
      read.message,
      'load carp(4) (kldload carp) and run doctor as root; set "sysctl" in the config if it lives elsewhere',
    );
  }
  if (simulated !== null) return simulatedFinding("sysctl", `${DEMOTION_OID} = ${read}, simulated in "${simulated.file}"`, simulated);
  return finding("sysctl", "ok", `${DEMOTION_OID} = ${read}`);
}

/** The demotion split into our bit and the kernel's share; a value that cannot be right carries its fix. */
export function demotionFinding(value: number): Finding {
  const explained = explainDemotion(value);
  if (explained.fix !== null) return finding("demotion", "warn", explained.summary, explained.fix);
  return finding("demotion", value === 0 ? "ok" : "info", explained.summary);
}

/**
 * net.inet.carp.preempt as read, or the error: 0 makes every demotion pointless, so it warns
 * loudly. `simulated` when it came from the simulation, which always answers 1.
 */
export function preemptFinding(read: string | Error, simulated: Simulated | null = null): Finding {
  if (read instanceof Error) return finding("preempt", "warn", `cannot read ${PREEMPT_OID}: ${read.message}`);
  if (simulated !== null) return simulatedFinding("preempt", `${PREEMPT_OID} = ${read.trim()}, simulated`, simulated);
  if (read.trim() === "0") {
    return finding(
      "preempt",
      "warn",
      `${PREEMPT_OID} = 0: demotion will not move mastership (a demoted master stays master unless its peer preempts)`,
      'on both nodes: System > High Availability > Settings, clear "Disable preempt" (or sysctl net.inet.carp.preempt=1)',
    );
  }
  return finding("preempt", "ok", `${PREEMPT_OID} = ${read.trim()}: a demoted master hands over to a peer that preempts too`);
}

/** Takes and releases the lock file as an evaluation does. */
export async function checkLockFile(file: string): Promise<Finding> {
  try {
    const lock = await acquireLock(file, { timeoutMs: LOCK_WAIT_MS });
    lock.release();
    return finding("lock file", "ok", `"${file}" can be locked`);
  } catch (error) {
    const message = messageOf(error);
    if (message.includes("still held")) {
      return finding("lock file", "warn", message, "see who holds it: fstat | grep carp_service_status");
    }
    return finding("lock file", "problem", message, 'run doctor as root; set "lockFile" in the config if the directory is elsewhere');
  }
}
