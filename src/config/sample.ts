/**
 * The commented sample config that install writes beside the real one. It is generated from the
 * zod schema (descriptions and defaults), so the sample cannot drift from what the program accepts.
 */
import { configSchema, METRICS_FILE_EXAMPLE, NOTIFY_DIR_EXAMPLE } from "./config.ts";
import { DEFAULT_CONFIG_FILE } from "./defaults.ts";
import { formatTomlValue } from "./toml-print.ts";

/**
 * Values shown for keys that have no default. Every such key needs one here: a new optional key
 * without an example makes renderSampleConfig throw, and its test fail.
 */
const EXAMPLES: Record<string, unknown> = { socketGroup: "wheel", metricsFile: METRICS_FILE_EXAMPLE, notifyDir: NOTIFY_DIR_EXAMPLE };

/**
 * How tables are usually written, shown under their key (indented, so it is read as an example,
 * never as a second value of a key).
 */
const TABLE_EXAMPLES: Record<string, string[]> = {
  hooks: [
    "For example, an OSPF check that must fail 3 runs in a row and pass 2:",
    '  [hooks."frr_ospf"]',
    "  fall = 3",
    "  rise = 2",
    "  timeoutMs = 3000",
  ],
  gateways: [
    "For example, a check gateway:WAN_GW that fails while the gateway is down, marked down, or losing packets,",
    "after 2 such runs in a row:",
    '  [gateways."WAN_GW"]',
    '  failOn = ["down", "force_down", "loss", "delay+loss"]',
    "  fall = 2",
  ],
};

/**
 * The sample: every key commented out (`# key = value`), preceded by its description; keys with a
 * default show it, keys without one show an example. Uncommented, it parses to the defaults.
 */
export function renderSampleConfig(platform = "freebsd"): string {
  const schema = configSchema(platform);
  const defaults: Record<string, unknown> = schema.parse({});
  const lines = [
    "# carp-service-status configuration: TOML, camelCase keys.",
    "#",
    `# Copy this file to ${DEFAULT_CONFIG_FILE} and uncomment what you change;`,
    "# every key below shows its default. Check the result with: carp-service-status config",
    "# Generated from the program's configuration schema. Reinstalling rewrites this sample unless",
    "# it was edited; the real config is never touched.",
  ];
  for (const [key, field] of Object.entries(schema.shape)) {
    const description = field.description;
    if (!description) throw new TypeError(`Config key "${key}" has no description; add .describe() in config.ts`);
    lines.push("", `# ${description}`);
    if (Object.hasOwn(defaults, key)) {
      lines.push(`# ${key} = ${formatTomlValue(defaults[key], key)}`);
      for (const line of TABLE_EXAMPLES[key] ?? []) lines.push(`# ${line}`);
    } else if (Object.hasOwn(EXAMPLES, key)) {
      lines.push("# (unset by default; an example)", `# ${key} = ${formatTomlValue(EXAMPLES[key], key)}`);
    } else {
      throw new TypeError(`Config key "${key}" has neither a default nor an example for the sample config`);
    }
  }
  return `${lines.join("\n")}\n`;
}
