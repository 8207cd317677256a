/** The configuration without zod (no config file): the schema's own defaults, not a copy that can drift. */
import { describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CarpError } from "../src/common/errors.ts";
import { builtInConfig } from "../src/config/built-in.ts";
import { parseConfig } from "../src/config/config.ts";
import { DEFAULT_CONFIG_FILE, FREEBSD_PATHS, repoHooksDir, SIMULATED_PATHS } from "../src/config/defaults.ts";
import { loadConfigCached } from "../src/system/config-cache.ts";
import { REPO } from "./helpers.ts";

describe("the built-in configuration", () => {
  for (const platform of ["freebsd", "linux"]) {
    test(`equals what the schema makes of an empty file on ${platform}`, () => {
      expect(builtInConfig(platform)).toEqual(parseConfig({}, { platform }));
    });
  }

  test("is a fresh object every time: changing one changes no other", () => {
    const one = builtInConfig("freebsd");
    one.hookEnv.X = "1";
    expect(builtInConfig("freebsd").hookEnv).toEqual({});
  });

  test.skipIf(existsSync(DEFAULT_CONFIG_FILE))("is what loads when there is no config file, with the simulation's notice", async () => {
    const loaded = await loadConfigCached({ platform: "linux" });
    expect(loaded.config).toEqual(builtInConfig("linux"));
    expect(loaded.file).toBeNull();
    expect(loaded.notices).toHaveLength(1);
    expect(loaded.notices[0]).toStartWith("No CARP on this machine (linux)");
  });

  test("a config file is read and validated by the schema", async () => {
    const dir = mkdtempSync(join(tmpdir(), "carp-config-"));
    try {
      const file = join(dir, "c.toml");
      writeFileSync(file, "concurrency = 2\n");
      expect((await loadConfigCached({ file, platform: "freebsd", cacheFile: join(dir, "cache") })).config.concurrency).toBe(2);
      writeFileSync(file, "concurrency = 0\n");
      const error = await loadConfigCached({ file, platform: "freebsd", cacheFile: join(dir, "cache") }).catch((e) => e);
      expect(error).toBeInstanceOf(CarpError);
      expect((error as CarpError).code).toBe("config");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("the default hooks directory without CARP", () => {
  test("from the source tree: the repository's hooks/, as the quick start shows", () => {
    expect(SIMULATED_PATHS.hooksDir).toBe(join(REPO, "hooks"));
    expect(repoHooksDir("/home/me/carp-service-status/src/config")).toBe("/home/me/carp-service-status/hooks");
  });

  test("anywhere else (a compiled executable runs from /$bunfs/root): none, so the stock directory applies", () => {
    expect(repoHooksDir("/$bunfs/root")).toBeNull();
    expect(repoHooksDir("/usr/local/lib/carp-service-status")).toBeNull();
    // CommonJS output (the bundle, the executable) keeps the source directory it was built from.
    expect(repoHooksDir("/home/me/carp-service-status/src/config", "/usr/local/libexec/carp-service-status/cli.js")).toBeNull();
    expect(repoHooksDir("/home/me/carp-service-status/src/config", "/$bunfs/root/carp-service-status")).toBeNull();
    expect(FREEBSD_PATHS.hooksDir).toBe("/usr/local/etc/rc.carp_service_status.d");
  });
});
