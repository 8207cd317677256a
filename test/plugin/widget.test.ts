/**
 * The dashboard widget in a real headless Chromium: a small page loads jQuery (npm), core's
 * BaseWidget.js and BaseTableWidget.js (from the tarball) and our widget as the dashboard does,
 * with the metadata's translations. The API's reply is the real one: a daemon of this repository,
 * asked through `configd status` (what `configctl carpservicestatus daemon_status` runs), with an
 * empty hooks directory, then a failing check, then every check passing under a hold-down.
 *
 * The screenshot of the failing check is saved in the test environment; with
 * WIDGET_SCREENSHOT=docs/images/widget.png it is also written there (the README's picture).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { appendFileSync, chmodSync, copyFileSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { type Browser, chromium } from "playwright-core";
import { DEMOTION_BIT } from "../../src/config/defaults.ts";
import { PLUGIN_SRC, REPO, run, scratchDir, TESTENV_DIR, testEnv } from "./testenv.ts";
import { child, readXml } from "./xml.ts";

const env = testEnv();
const WIDGETS = join(env.core, "src/opnsense/www/js/widgets");
const OUR_WIDGETS = join(PLUGIN_SRC, "opnsense/www/js/widgets");
const CLI = join(REPO, "src/cli.ts");
const scratch = scratchDir("carp-widget-");
const HOOKS = join(scratch.dir, "hooks");
const CONFIG = join(scratch.dir, "carp_service_status.toml");

/** The translations the dashboard hands the widget: the metadata's, as getDashboard returns them. */
const TRANSLATIONS = Object.fromEntries(
  child(readXml(join(OUR_WIDGETS, "Metadata/CarpServiceStatus.xml")).children[0]!, "translations")!.children.map((node) => [
    node.tag,
    node.text,
  ]),
);

const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>CARP Service Status widget</title>
<style>
  body { font-family: "SourceSansPro", "Helvetica Neue", Arial, sans-serif; font-size: 14px; background: #f7f7f7; margin: 16px; }
  .card { width: 460px; background: white; border: 1px solid #ddd; border-radius: 4px; }
  .card h3 { margin: 0; padding: 8px 12px; font-size: 15px; border-bottom: 1px solid #ddd; }
  .flextable-row { display: flex; border-bottom: 1px solid #eee; padding: 0.5em 0.5em; }
  .flex-cell { width: 50%; overflow-wrap: anywhere; }
  .flex-cell.first { width: 35%; }
  .badge { color: white; border-radius: 10px; padding: 1px 7px; font-size: 12px; }
  .carpservicestatus-why { color: #666; }
  .carpservicestatus-message { padding: 12px; }
</style>
<script src="/jquery.js"></script>
<script src="/BaseWidget.js"></script>
<script src="/BaseTableWidget.js"></script>
</head><body>
<div class="card"><h3 id="title"></h3><div id="widget"></div></div>
<script type="module">
  import CarpServiceStatus from "/CarpServiceStatus.js";
  const translations = ${JSON.stringify(TRANSLATIONS)};
  document.getElementById("title").textContent = translations.title;
  const widget = new CarpServiceStatus();
  widget.setId("carpservicestatus");
  widget.setTranslations(translations);
  $("#widget").append(widget.getMarkup());
  await widget.onMarkupRendered();
  await widget.onWidgetTick();
  window.widgetRendered = true;
</script>
</body></html>`;

type Scenario = "empty" | "failing" | "held" | "gateway" | "maintenance";
const replies: Partial<Record<Scenario, string>> = {};
let current: Scenario = "empty";

const FILES: Record<string, string> = {
  "/jquery.js": join(REPO, "node_modules/jquery/dist/jquery.min.js"),
  "/BaseWidget.js": join(WIDGETS, "BaseWidget.js"),
  "/BaseTableWidget.js": join(WIDGETS, "BaseTableWidget.js"),
  "/CarpServiceStatus.js": join(OUR_WIDGETS, "CarpServiceStatus.js"),
};

const server = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  fetch(request) {
    const path = new URL(request.url).pathname;
    if (path === "/") return new Response(PAGE, { headers: { "content-type": "text/html; charset=utf-8" } });
    if (path === "/api/carpservicestatus/service/daemon_status") {
      return new Response(replies[current], { headers: { "content-type": "application/json" } });
    }
    const file = FILES[path];
    if (file) return new Response(readFileSync(file), { headers: { "content-type": "text/javascript; charset=utf-8" } });
    return new Response("not found", { status: 404 });
  },
});

let browser: Browser;
let daemon: ReturnType<typeof Bun.spawn> | null = null;

function writeHook(name: string, body: string) {
  const path = join(HOOKS, name);
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
}

/** What the plugin's API answers: `configd status` against the daemon. */
async function daemonStatus(): Promise<string> {
  const result = await run([process.execPath, CLI, "configd", "status", "--config", CONFIG]);
  expect(result.exitCode).toBe(0);
  return result.stdout;
}

async function trigger() {
  const result = await run([process.execPath, CLI, "trigger", "--no-fallback", "--config", CONFIG]);
  expect(result.exitCode).not.toBe(3);
}

beforeAll(async () => {
  mkdirSync(HOOKS, { mode: 0o755 });
  const at = (name: string) => JSON.stringify(join(scratch.dir, name));
  writeFileSync(
    CONFIG,
    [
      `hooksDir = ${JSON.stringify(HOOKS)}`,
      'sysctl = "simulated"',
      'logger = "simulated"',
      `simulationFile = ${at("demotion")}`,
      `simulationLog = ${at("messages")}`,
      `lockFile = ${at("lock")}`,
      `stateFile = ${at("state")}`,
      `maintenanceFile = ${at("maintenance")}`,
      `socket = ${at("sock")}`,
      "schedule = false",
      // The scratch directory is under /tmp (world-writable): script security would refuse the hooks.
      "scriptSecurity = false",
      "promoteDelayMs = 3600000",
    ].join("\n"),
  );
  daemon = Bun.spawn([process.execPath, CLI, "daemon", "--config", CONFIG], { stdout: "ignore", stderr: "pipe" });
  // Ready when it answers with its status (it evaluates once at start).
  for (let attempt = 0; attempt < 200; attempt++) {
    const reply = JSON.parse(await daemonStatus());
    if (typeof reply.version === "string" && reply.lastRun !== null) {
      replies.empty = JSON.stringify(reply);
      break;
    }
    await Bun.sleep(50);
  }
  expect(replies.empty).toBeDefined();

  writeHook("frr_ospf", 'echo "no OSPF neighbour in state Full"; exit 2');
  writeHook("unbound", "exit 0");
  await trigger();
  replies.failing = await daemonStatus();

  writeHook("frr_ospf", "exit 0");
  await trigger();
  replies.held = await daemonStatus();

  // A gateway check, added by a reload, its gateway down (the fake gateway_status.php).
  symlinkSync(join(REPO, "test/fixtures/gateway-status"), join(scratch.dir, "gateway-status"));
  writeFileSync(join(scratch.dir, "gateways"), "WAN_GW down\n");
  appendFileSync(CONFIG, `\ngatewayStatusCommand = ${JSON.stringify(join(scratch.dir, "gateway-status"))}\n[gateways.WAN_GW]\n`);
  daemon.kill("SIGHUP");
  for (let attempt = 0; attempt < 200 && replies.gateway === undefined; attempt++) {
    await trigger();
    const reply = await daemonStatus();
    if (reply.includes('"gateway:WAN_GW"')) replies.gateway = reply;
    else await Bun.sleep(50);
  }
  expect(replies.gateway).toBeDefined();

  // The maintenance switch, turned on through the daemon's route.
  const switched = await run([
    process.execPath,
    CLI,
    "maintenance",
    "on",
    "--reason",
    "FRR upgrade <ticket 4711>",
    "--no-fallback",
    "--config",
    CONFIG,
  ]);
  expect(switched.exitCode).not.toBe(3);
  replies.maintenance = await daemonStatus();

  browser = await chromium.launch({
    executablePath: env.chromium,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
});

afterAll(async () => {
  await browser?.close();
  server.stop(true);
  if (daemon) {
    daemon.kill("SIGTERM");
    await daemon.exited;
  }
  scratch.remove();
});

/** Set by the page once the widget has rendered its first tick. */
const RENDERED = "window.widgetRendered === true";

/** Renders the widget on a reply and returns its rows as [header, cell text] and the page. */
async function render(scenario: Scenario) {
  current = scenario;
  const page = await browser.newPage({ viewport: { width: 500, height: 400 } });
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(error.message));
  await page.goto(`http://127.0.0.1:${server.port}/`);
  await page.waitForFunction(RENDERED, undefined, { timeout: 15_000 });
  expect(errors).toEqual([]);
  // Strings run in the page: this project's TypeScript has no DOM types.
  const rows = (await page.evaluate(`Array.from(document.querySelectorAll("#carpservicestatus-table .flextable-row")).map((row) =>
    Array.from(row.querySelectorAll(":scope > .flex-cell")).map((cell) => (cell.textContent || "").replace(/\\s+/g, " ").trim()))`)) as string[][];
  return { page, rows: Object.fromEntries(rows.map(([header, cell]) => [header!, cell!])) };
}

describe("the dashboard widget in Chromium", () => {
  test("a failing check: its state and output, the node demoted by our bit", async () => {
    const { page, rows } = await render("failing");
    expect(rows.frr_ospf).toBe("fail no OSPF neighbour in state Full");
    expect(rows.unbound).toBe("pass");
    expect(rows[TRANSLATIONS.demotion!]).toBe(`${TRANSLATIONS.demoted} ${DEMOTION_BIT}`);
    expect(rows[TRANSLATIONS.promotion!]).toBe(TRANSLATIONS.notheld);
    expect(rows[TRANSLATIONS.maintenance!]).toBeUndefined(); // off: no row

    const screenshot = join(TESTENV_DIR, "widget.png");
    await page.locator(".card").screenshot({ path: screenshot });
    expect(readFileSync(screenshot).subarray(1, 4).toString()).toBe("PNG");
    if (process.env.WIDGET_SCREENSHOT) {
      const target = resolve(REPO, process.env.WIDGET_SCREENSHOT);
      mkdirSync(dirname(target), { recursive: true });
      copyFileSync(screenshot, target);
    }
    await page.close();
  });

  test("a held promotion: every check passes, the bit stays until the hold-down ends", async () => {
    const { page, rows } = await render("held");
    expect(rows.frr_ospf).toBe("pass");
    expect(rows.unbound).toBe("pass");
    expect(rows[TRANSLATIONS.demotion!]).toBe(`${TRANSLATIONS.demoted} ${DEMOTION_BIT}`);
    const held = JSON.parse(replies.held!).promotionHeld;
    const until = await page.evaluate((iso) => new Date(iso).toLocaleTimeString(), held.until);
    expect(rows[TRANSLATIONS.promotion!]).toBe(
      `${TRANSLATIONS.held} ${TRANSLATIONS.until} ${until} (${Math.ceil(held.remainingMs / 1000)} s)`,
    );
    await page.close();
  });

  test("a gateway check: gateway:WAN_GW like a hook, why it fails and the gateway's status", async () => {
    const { page, rows } = await render("gateway");
    expect(rows["gateway:WAN_GW"]).toBe("fail in failOn: down (Offline), loss 100.0 %, delay 0.0 ms, stddev 0.0 ms, monitor 192.0.2.1");
    expect(rows.frr_ospf).toBe("pass");
    expect(rows[TRANSLATIONS.demotion!]).toBe(`${TRANSLATIONS.demoted} ${DEMOTION_BIT}`);
    await page.close();
  });

  test("the maintenance switch on: a row saying since when and why, the reason escaped", async () => {
    const { page, rows } = await render("maintenance");
    const since = JSON.parse(replies.maintenance!).maintenance.since;
    const shown = await page.evaluate((iso) => new Date(iso).toLocaleString(), since);
    expect(rows[TRANSLATIONS.maintenance!]).toBe(`${TRANSLATIONS.maintenanceon} ${TRANSLATIONS.since} ${shown}: FRR upgrade <ticket 4711>`);
    expect(rows[TRANSLATIONS.demotion!]).toBe(`${TRANSLATIONS.demoted} ${DEMOTION_BIT}`);
    await page.close();
  });

  test("an empty hooks directory: no checks, and where they would be", async () => {
    const { page, rows } = await render("empty");
    expect(rows[TRANSLATIONS.checks!]).toBe(`${TRANSLATIONS.nochecks} ${HOOKS}`);
    expect(rows[TRANSLATIONS.demotion!]).toBe(`${TRANSLATIONS.notdemoted} 0`);
    expect(Object.keys(rows)).toHaveLength(3);
    await page.close();
  });

  test("no daemon: the message, linking to the page", async () => {
    replies.empty = JSON.stringify({ daemonRunning: false, socket: "/var/run/carp_service_status.sock", message: "No daemon answers" });
    current = "empty";
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${server.port}/`);
    await page.waitForFunction(RENDERED, undefined, { timeout: 15_000 });
    expect(await page.locator("#carpservicestatus-message a").textContent()).toBe("No daemon answers");
    expect(await page.locator("#carpservicestatus-message a").getAttribute("href")).toBe("/ui/carpservicestatus/");
    expect(await page.locator("#carpservicestatus-table").isVisible()).toBe(false);
    await page.close();
  });
});
