#!/usr/bin/env bun
/**
 * The command line: one declarative table of subcommands. Each command's module is imported
 * only when it runs, so `trigger` and `status` stay lean (no zod, pino or croner).
 */
import { parseArgs } from "node:util";
import type { ArgumentSpec, CommandSpec, Flags, OptionSpec } from "./cli/flags.ts";
import { CarpError, EXIT, exitCodeOf, messageOf } from "./common/errors.ts";
import { runtimeProblem } from "./common/runtime.ts";
import { VERSION } from "./common/version.ts";

const CONFIG_OPTION: OptionSpec = {
  type: "string",
  valueName: "FILE",
  description: "config file (default /usr/local/etc/carp_service_status.toml when it exists)",
};
const JSON_OPTION: OptionSpec = { type: "boolean", description: "print one JSON object" };
const ALL_OPTION: OptionSpec = { type: "boolean", description: "also run the checks whose intervalMs has not passed since their last run" };

const COMMANDS: Record<string, CommandSpec> = {
  check: {
    summary: "run every service check once and adjust the CARP demotion",
    options: {
      config: CONFIG_OPTION,
      json: JSON_OPTION,
      "dry-run": { type: "boolean", description: "decide, but write and log nothing" },
      all: ALL_OPTION,
    },
    load: () => import("./cli/check.ts"),
  },
  config: {
    summary: "print the effective configuration and validate it",
    options: { config: CONFIG_OPTION, json: { type: "boolean", description: "print the effective configuration as one JSON object" } },
    load: () => import("./cli/config.ts"),
  },
  daemon: {
    summary: "run in the foreground: evaluate on the schedule and when triggered on the socket",
    options: {
      config: CONFIG_OPTION,
      syslog: {
        type: "boolean",
        description: "log to syslog (ident carp-service-status, a priority per level) instead of stderr; rc.d passes it",
      },
      root: { type: "string", valueName: "DIR", description: "watch the stock script install replaced under DIR (default /)" },
    },
    load: () => import("./cli/daemon.ts"),
  },
  trigger: {
    summary: "ask the daemon to evaluate now and print the result (evaluates here when no daemon answers)",
    options: {
      config: CONFIG_OPTION,
      json: JSON_OPTION,
      "no-fallback": { type: "boolean", description: "exit 3 instead of evaluating here when no daemon answers" },
      all: ALL_OPTION,
    },
    load: () => import("./cli/trigger.ts"),
  },
  maintenance: {
    summary:
      "hold this node demoted whatever the checks say (on), let the checks decide again (off), or show the switch (status); survives restarts and reboots",
    argument: { name: "state", choices: ["on", "off", "status"] },
    options: {
      config: CONFIG_OPTION,
      json: JSON_OPTION,
      reason: {
        type: "string",
        valueName: "TEXT",
        description: "with on: why, for the log, syslog, status and notify scripts (at most 200 characters)",
      },
      "no-fallback": { type: "boolean", description: "exit 3 instead of switching here when no daemon answers" },
    },
    load: () => import("./cli/maintenance.ts"),
  },
  status: {
    summary: "print the daemon's status: last result per hook, demotion, counters",
    options: {
      config: CONFIG_OPTION,
      json: JSON_OPTION,
      watch: { type: "boolean", description: "a live view in the terminal, redrawn when something changes (q or Ctrl-C quits)" },
    },
    load: () => import("./cli/status.ts"),
  },
  configd: {
    summary:
      "what the configd actions run: evaluate (like trigger), status (JSON), maintenance-on and maintenance-off (JSON); nothing on stderr, exit 0",
    argument: { name: "action", choices: ["evaluate", "status", "maintenance-on", "maintenance-off"] },
    options: {
      config: CONFIG_OPTION,
      reason: { type: "string", valueName: "TEXT", description: "with maintenance-on: why (empty: none)" },
    },
    load: () => import("./cli/configd.ts"),
  },
  doctor: {
    summary: "check this node before (and after) installing: config, sysctl, hooks, preempt, install, daemon, a dry run",
    options: {
      config: CONFIG_OPTION,
      json: JSON_OPTION,
      root: { type: "string", valueName: "DIR", description: "look for the installed files under DIR (default /)" },
    },
    load: () => import("./cli/doctor.ts"),
  },
  install: {
    summary: "install this executable, the rc.d service, the configd actions, the CARP event hook and the GUI plugin under --root",
    options: {
      root: { type: "string", valueName: "DIR", description: "install into DIR instead of / (default /)" },
      "replace-stock": {
        type: "boolean",
        description: "keep the stock /usr/local/sbin/carp_service_status aside and replace it with a shim (kept after firmware updates)",
      },
      force: { type: "boolean", description: "install even when doctor's dry run says starting now would demote this node" },
      "after-firmware-update": {
        type: "boolean",
        description: "what the firmware update hook runs: put the shim back if an update reinstalled the stock script, nothing else",
      },
    },
    load: () => import("./cli/install.ts"),
  },
  uninstall: {
    summary: "remove what install put under --root and restore the stock script",
    options: { root: { type: "string", valueName: "DIR", description: "uninstall from DIR instead of / (default /)" } },
    load: () => import("./cli/install.ts").then((m) => ({ run: m.runUninstall })),
  },
};

function optionLines(options: Record<string, OptionSpec>): string[] {
  const all: Record<string, OptionSpec> = { ...options, help: { type: "boolean", description: "show this help" } };
  const labels = Object.entries(all).map(([name, spec]) => `--${name}${spec.valueName ? ` ${spec.valueName}` : ""}`);
  const width = Math.max(...labels.map((label) => label.length));
  return Object.values(all).map((spec, i) => `  ${labels[i]!.padEnd(width)}  ${spec.description}`);
}

function mainHelp(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((name) => name.length));
  return [
    `carp-service-status ${VERSION}: demote this CARP node while a service check fails`,
    "",
    "Usage: carp-service-status COMMAND [OPTIONS]",
    "",
    "Commands:",
    ...Object.entries(COMMANDS).map(([name, spec]) => `  ${name.padEnd(width)}  ${spec.summary}`),
    "",
    "Run carp-service-status COMMAND --help for a command's options.",
    "Exit status: 0 all services passed, 1 a service failed, 2 usage or config error, 3 system error.",
  ].join("\n");
}

function commandHelp(name: string, spec: CommandSpec): string {
  const argument = spec.argument ? ` ${spec.argument.choices.join("|")}` : "";
  return [
    `Usage: carp-service-status ${name}${argument} [OPTIONS]`,
    "",
    `${spec.summary[0]!.toUpperCase()}${spec.summary.slice(1)}.`,
    "",
    "Options:",
    ...optionLines(spec.options),
  ].join("\n");
}

/** The one positional argument a command takes, checked against its choices. */
function argumentOf(argument: ArgumentSpec, positionals: string[]): string {
  const [value, ...extra] = positionals;
  const choices = argument.choices.map((choice) => `"${choice}"`).join(" or ");
  if (value === undefined) throw new Error(`Missing ${argument.name}: give ${choices}`);
  if (!argument.choices.includes(value)) throw new Error(`Unknown ${argument.name} "${value}": give ${choices}`);
  if (extra.length > 0) throw new Error(`Unexpected argument "${extra[0]}"`);
  return value;
}

/** Parses argv and runs the command; returns the exit status. */
export async function main(argv: string[], runtimeVersion: string = Bun.version): Promise<number> {
  // The helper that starts a check as another user (system/exec-as.ts): the compiled executable
  // and the bundle are their own helper. Hidden, and first: it must start fast and load little.
  if (argv[0]?.startsWith("__")) {
    const helper = await import("./system/exec-as.ts");
    if (argv[0] === helper.EXEC_AS_COMMAND) return helper.execAs(argv);
    // A daemon's config validated in a short-lived process, so zod never stays in the daemon.
    const cache = await import("./system/config-cache.ts");
    if (argv[0] === cache.VALIDATE_COMMAND) return cache.runValidateCommand(argv);
  }
  // Before anything else: an untested Bun could misread a hook's name or mode and misjudge it.
  const runtime = runtimeProblem(runtimeVersion);
  if (runtime !== null) {
    console.error(`carp-service-status: ${runtime}`);
    return EXIT.system;
  }
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    console.log(mainHelp());
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  if (name === "--version") {
    console.log(VERSION);
    return EXIT.ok;
  }
  const spec = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  try {
    if (!spec) throw new CarpError("usage", `Unknown command "${name}"; run carp-service-status --help`);
    let flags: Flags;
    try {
      const options = Object.fromEntries(
        Object.entries({ ...spec.options, help: { type: "boolean" } as const }).map(([key, o]) => [key, { type: o.type }]),
      );
      const parsed = parseArgs({ args: rest, options, strict: true, allowPositionals: spec.argument !== undefined });
      flags = parsed.values as Flags;
      if (spec.argument && !flags.help) flags[spec.argument.name] = argumentOf(spec.argument, parsed.positionals);
    } catch (error) {
      throw new CarpError("usage", `${messageOf(error)}; run carp-service-status ${name} --help`);
    }
    if (flags.help) {
      console.log(commandHelp(name, spec));
      return EXIT.ok;
    }
    const command = await spec.load();
    return await command.run(flags);
  } catch (error) {
    console.error(`carp-service-status: ${messageOf(error)}`);
    return exitCodeOf(error);
  }
}

// No top-level await: the port's bundle is CommonJS (scripts/build.ts), which cannot await there.
if (import.meta.main) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
