/** The flap history on disk: a missing or broken file is "no history", never a crash. */
import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NO_HISTORY } from "../src/engine/flap.ts";
import { readHistory, writeHistory } from "../src/engine/state-file.ts";

let dir = "";
afterEach(() => rmSync(dir, { recursive: true, force: true }));
function scratch(): string {
  dir = mkdtempSync(join(tmpdir(), "carp-state-"));
  return join(dir, "state");
}

const HISTORY = { hooks: { ospf: { state: "fail" as const, streak: 1 } }, passingSince: null, bitSet: true, observedAt: 1_796_000_000_000 };

test("what is written is read back", () => {
  const file = scratch();
  expect(writeHistory(file, HISTORY)).toBeNull();
  expect(readHistory(file)).toEqual({ history: HISTORY, warning: null });
});

test("a missing file is no history, and no warning", () => {
  expect(readHistory(scratch())).toEqual({ history: NO_HISTORY, warning: null });
});

const broken: Array<[string, string]> = [
  ["a truncated write", '{"version":1,"hooks":{"ospf":{"sta'],
  ["an empty file", ""],
  ["another version", '{"version":99,"hooks":{},"passingSince":null,"bitSet":null}'],
  ["a wrong shape", '{"version":1,"hooks":{"ospf":{"state":"maybe","streak":-1}},"passingSince":null,"bitSet":null}'],
  ["a time no Date can hold", '{"version":1,"hooks":{},"passingSince":9000000000000000,"bitSet":true}'],
];
for (const [what, text] of broken) {
  test(`${what} is no history, with a warning naming the file`, () => {
    const file = scratch();
    writeFileSync(file, text);
    const { history, warning } = readHistory(file);
    expect(history).toEqual(NO_HISTORY);
    expect(warning).toContain(`"${file}"`);
    expect(warning).toContain("starting without flap history");
  });
}

test("a symbolic link planted in place of the file is neither followed for reading nor written through", () => {
  const file = scratch();
  const target = join(dir, "target");
  writeFileSync(target, "precious\n");
  symlinkSync(target, file);
  expect(readHistory(file).warning).toContain("symbolic link");
  // A fresh temporary file is written, then renamed over the link: the link goes, its target stays.
  expect(writeHistory(file, HISTORY)).toBeNull();
  expect(readFileSync(target, "utf8")).toBe("precious\n");
  expect(readHistory(file)).toEqual({ history: HISTORY, warning: null });
});
