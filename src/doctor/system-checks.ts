/**
 * doctor's look at the kernel and the lock: the demotion oid readable, the demotion decoded,
 * net.inet.carp.preempt (without it demotion moves nothing), and the stock script's lock file.
 * The findings are pure functions of what was read; the reads are separate.
 */
import { messageOf } from "../common/errors.ts";
import { DEMOTION_OID } from "../config/defaults.ts";
import { explainDemotion } from "../engine/demotion.ts";
import { acquireLock } from "../engine/lock.ts";
import { type Finding, finding } from "./finding.ts";

export const PREEMPT_OID = "net.inet.carp.preempt";

/** How long doctor waits for the lock: an evaluation holds it for milliseconds. */
const LOCK_WAIT_MS = 1000;

/** The demotion oid as read (a number), or the error reading it. */
export function sysctlFinding(read: number | Error): Finding {
  if (read instanceof Error) {
    return finding(
      "sysctl",
      "problem",
      read.message,
      'load carp(4) (kldload carp) and run doctor as root; set "sysctl" in the config if it lives elsewhere',
    );
  }
  return finding("sysctl", "ok", `${DEMOTION_OID} = ${read}`);
}

/** The demotion split into our bit and the kernel's share; a value that cannot be right carries its fix. */
export function demotionFinding(value: number): Finding {
  const explained = explainDemotion(value);
  if (explained.fix !== null) return finding("demotion", "warn", explained.summary, explained.fix);
  return finding("demotion", value === 0 ? "ok" : "info", explained.summary);
}

/** net.inet.carp.preempt as read, or the error: 0 makes every demotion pointless, so it warns loudly. */
export function preemptFinding(read: string | Error): Finding {
  if (read instanceof Error) return finding("preempt", "warn", `cannot read ${PREEMPT_OID}: ${read.message}`);
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
