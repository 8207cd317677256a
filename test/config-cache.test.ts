/**
 * The validated-config cache (system/config-cache.ts): a hit gives what a full validation gives,
 * warnings included; anything doubtful is a miss that validates in full.
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CarpError } from "../src/common/errors.ts";
import { loadConfig } from "../src/config/config.ts";
import { valueWarnings } from "../src/config/warnings.ts";
import {
  CONFIG_CACHE_MODE,
  configCacheKey,
  loadConfigCached,
  loadConfigResident,
  readConfigCache,
  selfCommand,
  writeConfigCache,
} from "../src/system/config-cache.ts";

let dir: string;
let cacheFile: string;
let configFile: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "carp-config-cache-"));
  cacheFile = join(dir, "config-cache");
  configFile = join(dir, "carp.toml");
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A config with a warning (promoteDelayMs = 30 is 30 ms) and a table. */
const TEXT = 'hooksDir = "/tmp/hooks"\npromoteDelayMs = 30\n\n[hooks."a"]\nfall = 2\n';

function write(text: string): void {
  writeFileSync(configFile, text);
}

/** Rewrites the stored entries' configs with `edit`, as someone with root could: the mode and owner stay ours. */
function editStored(edit: (config: Record<string, unknown>) => void): void {
  const file = JSON.parse(readFileSync(cacheFile, "utf8")) as { entries: Array<{ config: Record<string, unknown> }> };
  for (const entry of file.entries) edit(entry.config);
  writeFileSync(cacheFile, JSON.stringify(file));
  chmodSync(cacheFile, CONFIG_CACHE_MODE);
}

describe("a hit", () => {
  test("gives what a full validation gives, warnings included", async () => {
    write(TEXT);
    const full = loadConfig({ file: configFile, platform: "linux" });
    const miss = await loadConfigCached({ file: configFile, platform: "linux", cacheFile });
    expect(existsSync(cacheFile)).toBe(true);
    const hit = await loadConfigCached({ file: configFile, platform: "linux", cacheFile });
    expect(miss.config).toEqual(full.config);
    expect(hit.config).toEqual(full.config);
    expect(hit.notices).toEqual(full.notices);
    expect(miss.warnings).toEqual(valueWarnings(full.config));
    expect(hit.warnings).toEqual(miss.warnings ?? []);
    expect(hit.warnings?.[0]?.message).toContain("promoteDelayMs = 30 is in milliseconds");
  });

  test("reads the stored entry instead of validating", async () => {
    write(TEXT);
    await loadConfigCached({ file: configFile, platform: "linux", cacheFile });
    editStored((config) => {
      config.hookTimeoutMs = 4321;
    });
    expect((await loadConfigCached({ file: configFile, platform: "linux", cacheFile })).config.hookTimeoutMs).toBe(4321);
  });

  test("the cache file is ours alone: mode 0600", async () => {
    write(TEXT);
    await loadConfigCached({ file: configFile, platform: "linux", cacheFile });
    expect(statSync(cacheFile).mode & 0o777).toBe(CONFIG_CACHE_MODE);
  });

  test("keeps several configs: alternating two files hits both", async () => {
    const other = join(dir, "other.toml");
    write(TEXT);
    writeFileSync(other, "hookTimeoutMs = 5000\n");
    await loadConfigCached({ file: configFile, platform: "linux", cacheFile });
    await loadConfigCached({ file: other, platform: "linux", cacheFile });
    expect(readConfigCache(cacheFile, configCacheKey(TEXT, "linux"))).not.toBeNull();
    expect(readConfigCache(cacheFile, configCacheKey("hookTimeoutMs = 5000\n", "linux"))).not.toBeNull();
  });
});

describe("a miss validates in full", () => {
  test("when the config file was edited", async () => {
    write(TEXT);
    await loadConfigCached({ file: configFile, platform: "linux", cacheFile });
    write(TEXT.replace("fall = 2", "fall = 3"));
    expect((await loadConfigCached({ file: configFile, platform: "linux", cacheFile })).config.hooks.a?.fall).toBe(3);
  });

  test("when the edited config is invalid: the error, as without a cache", async () => {
    write(TEXT);
    await loadConfigCached({ file: configFile, platform: "linux", cacheFile });
    write(`${TEXT}hookDir = "/x"\n`);
    const full = (() => {
      try {
        loadConfig({ file: configFile, platform: "linux" });
      } catch (error) {
        return error as Error;
      }
      throw new Error("loadConfig accepted an invalid config");
    })();
    await expect(loadConfigCached({ file: configFile, platform: "linux", cacheFile })).rejects.toThrow(full.message);
  });

  const planted = 4321;
  /** Validates once, plants a changed entry, then breaks the cache file as `tamper` says. */
  async function afterTampering(tamper: () => void): Promise<number> {
    write(TEXT);
    await loadConfigCached({ file: configFile, platform: "linux", cacheFile });
    editStored((config) => {
      config.hookTimeoutMs = planted;
    });
    tamper();
    return (await loadConfigCached({ file: configFile, platform: "linux", cacheFile })).config.hookTimeoutMs;
  }

  test("when the cache file is readable by others", async () => {
    expect(await afterTampering(() => chmodSync(cacheFile, 0o644))).toBe(10_000);
  });

  test("when the cache file is owned by someone else", async () => {
    expect(await afterTampering(() => chownSync(cacheFile, 65534, 65534))).toBe(10_000);
  });

  test("when the cache file is a symbolic link", async () => {
    const target = join(dir, "elsewhere");
    const value = await afterTampering(() => {
      writeFileSync(target, readFileSync(cacheFile));
      chmodSync(target, CONFIG_CACHE_MODE);
      rmSync(cacheFile);
      symlinkSync(target, cacheFile);
    });
    expect(value).toBe(10_000);
  });

  test("when the cache file is garbage, and the cache is written again", async () => {
    expect(
      await afterTampering(() => {
        writeFileSync(cacheFile, "{not json");
        chmodSync(cacheFile, CONFIG_CACHE_MODE);
      }),
    ).toBe(10_000);
    expect(readConfigCache(cacheFile, configCacheKey(TEXT, "linux"))?.config.hookTimeoutMs).toBe(10_000);
  });

  test("when the entry was made by another version, schema or Bun (another key)", () => {
    write(TEXT);
    const stale = loadConfig({ file: configFile, platform: "linux" });
    writeConfigCache(cacheFile, "another program's key", { config: { ...stale.config, hookTimeoutMs: planted }, warnings: [] });
    expect(readConfigCache(cacheFile, configCacheKey(TEXT, "linux"))).toBeNull();
    expect(readConfigCache(cacheFile, "another program's key")?.config.hookTimeoutMs).toBe(planted);
  });

  test("for another platform: the key holds the platform and its default paths", () => {
    expect(configCacheKey(TEXT, "linux")).not.toBe(configCacheKey(TEXT, "freebsd"));
  });

  test("when a group file the config names a group from has changed", () => {
    write(TEXT.replace("promoteDelayMs = 30", 'promoteDelayMs = 30\nsocketGroup = "root"'));
    const groupFile = join(dir, "group");
    writeFileSync(groupFile, "root:*:0:root\n");
    const validated = { config: { ...loadConfig({ file: configFile, platform: "linux" }).config }, warnings: [] };
    const key = configCacheKey(readFileSync(configFile, "utf8"), "linux");
    writeConfigCache(cacheFile, key, validated, { groupFile });
    expect(readConfigCache(cacheFile, key)).not.toBeNull();
    writeFileSync(groupFile, "operator:*:5:root\n");
    expect(readConfigCache(cacheFile, key)).toBeNull();
  });
});

describe("a daemon's load (no zod in its process)", () => {
  test("a miss is validated and cached by a child of this program", () => {
    write(TEXT);
    const loaded = loadConfigResident({ file: configFile, platform: "linux", cacheFile, validateIn: "child" });
    expect(loaded.config).toEqual(loadConfig({ file: configFile, platform: "linux" }).config);
    expect(loaded.warnings).toEqual(valueWarnings(loaded.config));
    expect(readConfigCache(cacheFile, configCacheKey(TEXT, "linux"))?.config).toEqual(loaded.config);
  });

  test("an invalid config throws the error loadConfig throws", () => {
    write('hooksDir = "relative"\n');
    let expected = "";
    try {
      loadConfig({ file: configFile, platform: "linux" });
    } catch (error) {
      expected = (error as Error).message;
    }
    expect(expected).toContain("must be an absolute path");
    let thrown: unknown = null;
    try {
      loadConfigResident({ file: configFile, platform: "linux", cacheFile, validateIn: "child" });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(CarpError);
    expect((thrown as CarpError).code).toBe("config");
    expect((thrown as CarpError).message).toBe(expected);
  });

  test("from the source tree a miss is validated here by default, with the same result", () => {
    write(TEXT);
    const loaded = loadConfigResident({ file: configFile, platform: "linux", cacheFile });
    expect(loaded.config).toEqual(loadConfig({ file: configFile, platform: "linux" }).config);
    expect(readConfigCache(cacheFile, configCacheKey(TEXT, "linux"))?.config).toEqual(loaded.config);
  });

  test("the child is src/cli.ts under this Bun from the source tree, the executable itself when compiled", () => {
    const command = selfCommand();
    expect(command[0]).toBe(process.execPath);
    expect(command.at(-1)).toBe(join(import.meta.dir, "..", "src", "cli.ts"));
    expect(
      selfCommand({
        modulePath: "/build/src/system/config-cache.ts",
        main: "/$bunfs/root/cli",
        execPath: "/usr/local/bin/carp-service-status",
      }),
    ).toEqual(["/usr/local/bin/carp-service-status"]);
    // The port's bundle, CommonJS: its modules keep their source paths, the entry is cli.js.
    const main = "/usr/local/libexec/carp-service-status/cli.js";
    expect(selfCommand({ modulePath: "/build/src/system/config-cache.ts", main, execPath: "/usr/local/bin/bun" })).toEqual([
      "/usr/local/bin/bun",
      "--config=/dev/null",
      "--no-env-file",
      "--no-install",
      main,
    ]);
  });
});
