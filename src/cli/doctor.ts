/** `doctor`: the pre-flight checks, as a table or JSON; exit 0 all good, 1 warnings, 2 problems. */
import { resolve } from "node:path";
import { CarpError } from "../common/errors.ts";
import { runDoctor } from "../doctor/doctor.ts";
import { doctorExitCode } from "../doctor/finding.ts";
import { formatFindings } from "../doctor/format.ts";
import type { Flags } from "./flags.ts";

/** `--root`, resolved; "/" when absent. */
export function rootOf(flags: Flags): string {
  const root = flags.root;
  if (root === "") throw new CarpError("usage", "--root needs a directory");
  return resolve(typeof root === "string" ? root : "/");
}

export async function run(flags: Flags): Promise<number> {
  const findings = await runDoctor({ root: rootOf(flags), configFile: flags.config as string | undefined });
  const status = doctorExitCode(findings);
  const result = (["ok", "warnings", "problems"] as const)[status];
  console.log(flags.json === true ? JSON.stringify({ result, findings }, null, 2) : formatFindings(findings));
  return status;
}
