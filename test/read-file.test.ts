/** Every file we read, bounded: a regular file or a refusal that says what stands there, never a hang. */
import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileRefused, readBoundedFile, refusalFix } from "../src/common/read-file.ts";

let dir = "";
afterEach(() => rmSync(dir, { recursive: true, force: true }));
function scratch(): string {
  dir = mkdtempSync(join(tmpdir(), "carp-read-"));
  return dir;
}

function refusal(path: string, options = { maxBytes: 100 }): FileRefused {
  try {
    readBoundedFile(path, options);
  } catch (error) {
    if (error instanceof FileRefused) return error;
    throw error;
  }
  throw new Error(`"${path}" was read`);
}

test("a regular file is read whole, up to and including the cap", () => {
  const file = join(scratch(), "f");
  writeFileSync(file, "é".repeat(50));
  expect(readBoundedFile(file, { maxBytes: 100 })).toBe("é".repeat(50));
  expect(refusal(file, { maxBytes: 99 }).message).toBe("it holds more than 99 bytes, the most we read from it");
});

test("a FIFO without a writer is refused at once, not waited on", () => {
  const fifo = join(scratch(), "fifo");
  Bun.spawnSync(["mkfifo", fifo]);
  expect(refusal(fifo)).toMatchObject({ code: "ENOTREG", message: "it is a FIFO (named pipe), not a regular file" });
});

test("a device is refused without a byte read", () => {
  expect(refusal("/dev/zero")).toMatchObject({ code: "ENOTREG", message: "it is a character device, not a regular file" });
});

test("a directory is refused", () => {
  expect(refusal(scratch()).message).toBe("it is a directory, not a regular file");
});

test("a file that claims a size of 0 (procfs) is read to its end, and still held to the cap", () => {
  expect(readBoundedFile("/proc/self/stat", { maxBytes: 4096 })).toStartWith(`${process.pid} (`);
  expect(refusal("/proc/self/status", { maxBytes: 10 }).code).toBe("EFBIG");
});

test("a symbolic link is followed, unless noFollow: then refused, naming how to clear it", () => {
  const file = join(scratch(), "f");
  writeFileSync(file, "x = 1\n");
  symlinkSync(file, join(dir, "link"));
  expect(readBoundedFile(join(dir, "link"), { maxBytes: 100 })).toBe("x = 1\n");
  expect(() => readBoundedFile(join(dir, "link"), { maxBytes: 100, noFollow: true })).toThrow(
    `Refusing "${join(dir, "link")}": it is a symbolic link, and we never follow one here; remove it: rm "${join(dir, "link")}"`,
  );
});

test("a missing file is ENOENT, as open(2) says", () => {
  expect(() => readBoundedFile(join(scratch(), "missing"), { maxBytes: 100 })).toThrow(expect.objectContaining({ code: "ENOENT" }));
});

test("the fix never tells anyone to remove a device", () => {
  expect(refusalFix(refusal("/dev/zero").stats, "/dev/zero", "stateFile")).toBe('set "stateFile" to a file of its own');
  const fifo = join(scratch(), "fifo");
  Bun.spawnSync(["mkfifo", fifo]);
  expect(refusalFix(refusal(fifo).stats, fifo, "stateFile")).toBe(`remove it (rm "${fifo}") or set "stateFile" to a file of its own`);
});
