/**
 * The fake gateway_status.php (test/fixtures/gateway-status) linked into a sandbox: its gateways,
 * its failure switches, and a config that lists gateways.
 */
import { appendFileSync, existsSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { FIXTURES, type Sandbox } from "./helpers.ts";

export interface GatewayFixture {
  /** Its path: what gatewayStatusCommand names. */
  command: string;
  /** Sets the gateways it prints, one "NAME STATUS [LOSS DELAY STDDEV MONITOR]" line each (see the fixture). */
  setGateways(lines: string[]): void;
  /** Turns a failure on: "out" (print this instead), "exit" (that status), "hang"; null turns it off. */
  setSwitch(name: "out" | "exit" | "hang", content: string | null): void;
  /** How often it ran. */
  runs(): number;
}

/** Links the fake into the sandbox's bin, printing these gateways. */
export function addGatewayFixture(sandbox: Sandbox, lines: string[] = []): GatewayFixture {
  const bin = join(sandbox.dir, "bin");
  const command = join(bin, "gateway-status");
  symlinkSync(join(FIXTURES, "gateway-status"), command);
  const fixture: GatewayFixture = {
    command,
    setGateways: (next) => writeFileSync(join(bin, "gateways"), next.map((line) => `${line}\n`).join("")),
    setSwitch(name, content) {
      const file = join(bin, `gateways.${name}`);
      if (content === null) rmSync(file, { force: true });
      else writeFileSync(file, content);
    },
    runs() {
      const file = join(bin, "gateways.calls");
      return existsSync(file) ? readFileSync(file, "utf8").split("\n").filter(Boolean).length : 0;
    },
  };
  fixture.setGateways(lines);
  return fixture;
}

/**
 * Writes the sandbox's config with these top-level keys, the fake as gatewayStatusCommand, and a
 * `[gateways."NAME"]` table for each gateway (TOML lines under it).
 */
export function writeGatewayConfig(
  sandbox: Sandbox,
  fixture: GatewayFixture,
  gateways: Record<string, string[]>,
  extra: Record<string, unknown> = {},
): string {
  const file = sandbox.writeConfig({ gatewayStatusCommand: fixture.command, ...extra });
  for (const [name, lines] of Object.entries(gateways))
    appendFileSync(file, `\n[gateways."${name}"]\n${lines.map((l) => `${l}\n`).join("")}`);
  return file;
}
