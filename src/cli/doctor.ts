/** `doctor`: the pre-flight checks, as a table or JSON; exit 0 all good, 1 warnings, 2 problems. */
import { runDoctor } from "../doctor/doctor.ts";
import { doctorExitCode } from "../doctor/finding.ts";
import { formatFindings } from "../doctor/format.ts";
import { type Flags, rootOf } from "./flags.ts";

export async function run(flags: Flags): Promise<number> {
  const findings = await runDoctor({ root: rootOf(flags), configFile: flags.config as string | undefined });
  const status = doctorExitCode(findings);
  const result = (["ok", "warnings", "problems"] as const)[status];
  console.log(flags.json === true ? JSON.stringify({ result, findings }, null, 2) : formatFindings(findings));
  return status;
}
