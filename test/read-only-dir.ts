/**
 * A directory that root cannot write to, for tests of a read-only /var/run. Where this process
 * may mount (root with CAP_SYS_ADMIN, as on a VM), the directory is bind-mounted read-only over
 * itself: writes fail with EROFS, as on a read-only file system. Elsewhere (a container without
 * that capability) it is made mode 0555 and the process under test runs through setpriv(1)
 * without CAP_DAC_OVERRIDE, so root, too, gets EACCES. Either way the directory stays readable.
 */
import { chmodSync } from "node:fs";

export interface ReadOnlyDir {
  /** How the directory refuses writes. */
  how: "read-only bind mount" | "mode 0555 without CAP_DAC_OVERRIDE";
  /** The argv prefix that runs a process so that the directory holds for it too. */
  prefix: string[];
  /** Writable again. */
  release(): void;
}

/** Runs a command, quietly: its exit status. */
function run(argv: string[]): number {
  return Bun.spawnSync(argv, { stdout: "ignore", stderr: "ignore" }).exitCode;
}

const SETPRIV_PREFIX = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--inh-caps=-dac_override,-dac_read_search", "--"];

/** Whether setpriv can drop the capability here; decided once. */
let setprivWorks: boolean | null = null;

/** The argv prefix that a directory made read-only later in the test will need (see makeReadOnly). */
export function readOnlyPrefix(): string[] {
  if (mountWorks()) return [];
  setprivWorks ??= run([...SETPRIV_PREFIX, "true"]) === 0;
  if (!setprivWorks) throw new Error("Cannot make a directory read-only for root here: neither mount --bind nor setpriv works");
  return SETPRIV_PREFIX;
}

let mountable: boolean | null = null;
/** READ_ONLY_DIR=setpriv forces the fallback, to try it where mounting works. */
function mountWorks(): boolean {
  if (process.env.READ_ONLY_DIR === "setpriv") return false;
  if (mountable === null) {
    const probe = Bun.spawnSync(["mktemp", "-d"]).stdout.toString().trim();
    mountable = run(["mount", "--bind", probe, probe]) === 0 && run(["mount", "-o", "remount,ro,bind", probe]) === 0;
    run(["umount", probe]);
    run(["rmdir", probe]);
  }
  return mountable;
}

/** Makes `dir` refuse writes now; processes started with readOnlyPrefix() are held by it too. */
export function makeReadOnly(dir: string): ReadOnlyDir {
  if (mountWorks()) {
    if (run(["mount", "--bind", dir, dir]) !== 0 || run(["mount", "-o", "remount,ro,bind", dir]) !== 0) {
      run(["umount", dir]);
      throw new Error(`Cannot bind-mount "${dir}" read-only`);
    }
    let mounted = true;
    return {
      how: "read-only bind mount",
      prefix: [],
      release() {
        if (mounted) run(["umount", dir]);
        mounted = false;
      },
    };
  }
  const prefix = readOnlyPrefix();
  chmodSync(dir, 0o555);
  let locked = true;
  return {
    how: "mode 0555 without CAP_DAC_OVERRIDE",
    prefix,
    release() {
      if (locked) chmodSync(dir, 0o755);
      locked = false;
    },
  };
}
