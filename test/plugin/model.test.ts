/**
 * The plugin's model tests (src/opnsense/mvc/tests in the plugin, where opnsense/plugins keeps
 * them) under core's own PHPUnit setup: its phpunit.xml and setup.php, with the plugin's MVC
 * directories added as on a firewall (test/plugin/php/bootstrap.php).
 */
import { expect, test } from "bun:test";
import { join } from "node:path";
import { PHP_DIR, PLUGIN_SRC, phpEnv, run, scratchDir, testEnv } from "./testenv.ts";

test("the model's PHPUnit tests pass under core's test setup", async () => {
  const env = testEnv();
  const scratch = scratchDir("carp-phpunit-");
  try {
    const result = await run(
      [
        env.phpunit,
        "--bootstrap",
        join(PHP_DIR, "bootstrap.php"),
        "--configuration",
        join(env.core, "src/opnsense/mvc/tests/phpunit.xml"),
        join(PLUGIN_SRC, "opnsense/mvc/tests"),
      ],
      { env: phpEnv(env, scratch.dir) },
    );
    const output = `${result.stdout}${result.stderr}`;
    expect(output).toMatch(/^OK \(\d+ tests, \d+ assertions\)$/m);
    // The defaults, every bound, and the four kinds of bad check names, at least.
    expect(Number(output.match(/^OK \((\d+) tests/m)?.[1])).toBeGreaterThanOrEqual(30);
    expect(result.exitCode).toBe(0);
  } finally {
    scratch.remove();
  }
});
