import { describe, expect, test } from "bun:test";
import pkg from "../package.json" with { type: "json" };
import { main } from "../src/cli.ts";
import { EXIT } from "../src/common/errors.ts";
import { runtimeProblem, SUPPORTED_BUN } from "../src/common/runtime.ts";

describe("the Bun versions we run on", () => {
  test("is the range package.json declares in engines", () => {
    expect(SUPPORTED_BUN).toBe(pkg.engines.bun);
  });

  test.each(["1.3.14", "1.4.0", "1.4.5", "2.0.0"])("accepts Bun %s", (version) => {
    expect(runtimeProblem(version)).toBeNull();
  });

  test.each(["1.3.13", "1.2.21", "1.0.0"])("refuses Bun %s, naming it and the range", (version) => {
    expect(runtimeProblem(version)).toBe(
      `This is Bun ${version}; carp-service-status needs Bun ${SUPPORTED_BUN} (FreeBSD: pkg install bun; elsewhere: npm install -g bun)`,
    );
  });

  test("the running Bun is one of them", () => {
    expect(runtimeProblem(Bun.version)).toBeNull();
  });

  test("the command line refuses to start on an older Bun, before any command runs: exit 3", async () => {
    const errors: string[] = [];
    const original = console.error;
    console.error = (line: string) => errors.push(line);
    try {
      expect(await main(["--version"], "1.3.13")).toBe(EXIT.system);
    } finally {
      console.error = original;
    }
    expect(errors).toEqual([`carp-service-status: ${runtimeProblem("1.3.13")}`]);
  });
});
