/**
 * Scratch OPNsense-like roots for the install tests: a stock script with its own mode and owner,
 * things of other packages that must survive, a stand-in executable; and the checks that hold
 * whatever point an install or uninstall was cut short at.
 */
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { LAYOUT } from "../src/install/layout.ts";
import { isShim } from "../src/install/templates.ts";

// Not valid UTF-8 on purpose: the stock script must come back byte for byte, not via a string.
export const STOCK = Buffer.concat([
  Buffer.from("#!/usr/local/bin/php\n<?php\n// stock carp_service_status\n"),
  Buffer.from([0xff, 0xfe, 0x00, 0x0a]),
]);
/** Not what install writes (0755, root:root): restoring it exactly is what is being checked. */
export const STOCK_MODE = 0o2750;
export const STOCK_OWNER = { uid: 0, gid: 5 };

const cleanups: string[] = [];

/** Removes every scratch directory made so far (call from afterEach/afterAll). */
export function removeScratch(): void {
  for (const dir of cleanups.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/**
 * Where scratch roots go: a tmpfs when there is one. install fsyncs every file and directory it
 * changes, which costs seconds per test on a disk and nothing on tmpfs; durability across a power
 * cut is not something a test can observe either way. Nothing is executed from these roots.
 */
export const SCRATCH_BASE = existsSync("/dev/shm") ? "/dev/shm" : tmpdir();

/** A scratch directory, removed by removeScratch; `base` defaults to SCRATCH_BASE. */
export function scratch(prefix: string, base = SCRATCH_BASE): string {
  const dir = mkdtempSync(join(base, prefix));
  chmodSync(dir, 0o755);
  cleanups.push(dir);
  return dir;
}

export function put(root: string, path: string, content: string | Buffer, mode = 0o644): string {
  const file = join(root, path);
  mkdirSync(dirname(file), { recursive: true, mode: 0o755 });
  writeFileSync(file, content);
  chmodSync(file, mode);
  return file;
}

/** A stand-in for the executable install copies. */
export function standInExecutable(text = "#!/bin/sh\necho stand-in executable\n", base = SCRATCH_BASE): string {
  return put(scratch("carp-exe-", base), "carp-service-status", text, 0o755);
}

/**
 * An OPNsense-like root: the stock script (with STOCK_MODE and STOCK_OWNER, which install does not
 * give files it writes), a config, another package's rc.d script and CARP hook. Under `base` when
 * something is executed from it (a tmpfs may be mounted noexec).
 */
export function opnsenseRoot(base = SCRATCH_BASE): string {
  const root = scratch("carp-root-", base);
  const stock = put(root, LAYOUT.stockScript, STOCK);
  chownSync(stock, STOCK_OWNER.uid, STOCK_OWNER.gid);
  // chmod(1), after the chown (which clears setgid): Bun 1.3.14's chmod drops setuid/setgid bits.
  const chmod = Bun.spawnSync(["chmod", STOCK_MODE.toString(8), stock]);
  if (chmod.exitCode !== 0) throw new Error(`chmod failed: ${chmod.stderr.toString()}`);
  utimesSync(stock, new Date("2024-01-02T03:04:05Z"), new Date("2024-01-02T03:04:05Z"));
  put(root, LAYOUT.config, 'logLevel = "debug"\n', 0o640);
  put(root, "usr/local/etc/rc.d/other_service", "#!/bin/sh\n", 0o755);
  put(root, "usr/local/etc/rc.syshook.d/carp/20-openvpn", "#!/usr/local/bin/php\n", 0o755);
  return root;
}

/** Copies a tree with modes, owners and times (cp -a), to run two continuations from one state. */
export function cloneTree(root: string): string {
  const copy = scratch("carp-clone-");
  const result = Bun.spawnSync(["cp", "-a", `${root}/.`, copy]);
  if (result.exitCode !== 0) throw new Error(`cp -a failed: ${result.stderr.toString()}`);
  return copy;
}

/**
 * Whether the node has a working carp_service_status: the stock script as it was (content and
 * mode), or our shim with the executable it calls. Returns what is wrong, or null.
 */
export function brokenStockScript(
  root: string,
  stock: { bytes: Buffer; mode: number } = { bytes: STOCK, mode: STOCK_MODE },
): string | null {
  const path = join(root, LAYOUT.stockScript);
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch {
    return `"${LAYOUT.stockScript}" is missing`;
  }
  const mode = statSync(path).mode & 0o7777;
  if (bytes.equals(stock.bytes)) return mode === stock.mode ? null : `the stock script has mode ${mode.toString(8)}`;
  if (!isShim(bytes.toString("utf8"))) return `"${LAYOUT.stockScript}" is neither the stock script nor the shim`;
  try {
    const binary = statSync(join(root, LAYOUT.binary));
    return binary.isFile() && (binary.mode & 0o111) !== 0 ? null : "the shim's executable is not executable";
  } catch {
    return "the shim calls a missing executable";
  }
}
