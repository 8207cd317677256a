/** What a valid config may still have wrong: durations meant in seconds, settings under [hookEnv], hook tables naming no hook. */
import { describe, expect, test } from "bun:test";
import { parseConfig } from "../src/config/config.ts";
import { unmatchedHookWarnings } from "../src/config/hook-names.ts";
import { formatWarning } from "../src/config/notices.ts";
import { LIKELY_SECONDS_BELOW_MS, valueWarnings } from "../src/config/warnings.ts";

function warningsOf(input: Record<string, unknown>): string[] {
  return valueWarnings(parseConfig(input, { platform: "freebsd" })).map(formatWarning);
}

describe("durations under a second", () => {
  test("promoteDelayMs, hookTimeoutMs, notifyTimeoutMs and a hook's timeoutMs: the unit is milliseconds", () => {
    expect(warningsOf({ promoteDelayMs: 30, hookTimeoutMs: 500, notifyTimeoutMs: 100, hooks: { frr: { timeoutMs: 999 } } })).toEqual([
      "promoteDelayMs = 30 is in milliseconds (0.03 s); for 30 s write promoteDelayMs = 30000",
      "hookTimeoutMs = 500 is in milliseconds (0.5 s); for 500 s write hookTimeoutMs = 500000",
      "notifyTimeoutMs = 100 is in milliseconds (0.1 s); for 100 s write notifyTimeoutMs = 100000",
      '[hooks."frr"] timeoutMs = 999 is in milliseconds (0.999 s); for 999 s write timeoutMs = 999000',
    ]);
  });

  test("a second or more says nothing, nor does promoteDelayMs = 0 (no hold-down)", () => {
    const second = LIKELY_SECONDS_BELOW_MS;
    expect(
      warningsOf({ promoteDelayMs: 0, hookTimeoutMs: second, notifyTimeoutMs: second, hooks: { frr: { timeoutMs: second } } }),
    ).toEqual([]);
    expect(warningsOf({})).toEqual([]);
  });
});

test("a setting written below [hookEnv] is an environment variable: said, with where it belongs", () => {
  expect(warningsOf({ hookEnv: { REQUESTS_CA_BUNDLE: "/x", logLevel: "debug", LOGLEVEL: "1" } })).toEqual([
    "[hookEnv] sets logLevel, which is a config key: below the [hookEnv] header it is an environment variable for hooks, not a setting; move logLevel above the first [table]",
  ]);
});

describe("hook tables that name no hook", () => {
  const config = { hooksDir: "/h", hooks: { "frr-ospf": {}, unbound: {}, later: {}, ".hidden": {} } };

  test("each named with the nearest hook in the directory, or as not there (yet?)", () => {
    expect(unmatchedHookWarnings(config, ["frr_ospf", "unbound", ".hiddem"]).map(formatWarning)).toEqual([
      '[hooks."frr-ospf"] names no file in "/h"; did you mean "frr_ospf"?',
      '[hooks."later"] names no file in "/h" (yet?): its settings apply to no hook',
      // Dotfiles are never hooks, so never a guess.
      '[hooks.".hidden"] names no file in "/h" (yet?): its settings apply to no hook',
    ]);
  });

  test("a name with control characters is shown escaped", () => {
    expect(unmatchedHookWarnings({ hooksDir: "/h", hooks: { "a\nb": {} } }, [])[0]!.message).toStartWith('[hooks."a\\nb"]');
  });
});
