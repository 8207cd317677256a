/**
 * The plugin's model and our zod schema describe the same settings: every key of the schema has
 * its field (same type, bounds and default) and every field its key, apart from the few listed
 * here with the reason. A setting added on either side alone fails this test.
 */
import { describe, expect, test } from "bun:test";
import { z } from "zod";
import { configSchema } from "../../src/config/config.ts";
import { GATEWAY_NAME_PATTERN } from "../../src/config/gateways.ts";
import { MODEL_XML } from "./testenv.ts";
import { child, childText, readXml, type XmlNode } from "./xml.ts";

/** Schema keys the model leaves out: they only matter with a simulated sysctl or logger, which a firewall never has. */
const SCHEMA_ONLY = ["simulationFile", "simulationLog"];
/** Model fields with no key of their own: the rc.conf.d switch, and what the TOML writes as `false`. */
const MODEL_ONLY = ["enabled", "socketEnabled", "scheduleEnabled"];
/** Per-check fields the TOML has no key for: the check's name is the table's key; the description is the GUI's. */
const CHECK_MODEL_ONLY = ["name", "description"];
/** The same for a gateway check: the gateway's name is the table's key. */
const GATEWAY_MODEL_ONLY = ["name", "description"];

interface JsonSchema {
  type?: string;
  items?: JsonSchema;
  minItems?: number;
  const?: unknown;
  enum?: unknown[];
  default?: unknown;
  minimum?: number;
  maximum?: number;
  anyOf?: JsonSchema[];
  properties?: Record<string, JsonSchema>;
  additionalProperties?: JsonSchema;
}

// The FreeBSD defaults are the ones a firewall runs with.
const SCHEMA = z.toJSONSchema(configSchema("freebsd"), { io: "input", unrepresentable: "any" }) as JsonSchema;
const PROPERTIES = SCHEMA.properties!;
const ITEMS = child(readXml(MODEL_XML), "items")!;

function field(parent: XmlNode, name: string): XmlNode {
  const node = child(parent, name);
  if (!node) throw new Error(`The model has no field "${name}"`);
  return node;
}

/** What a field must hold for a schema node: type, bounds and default. */
function expectField(node: XmlNode, schema: JsonSchema, where: string) {
  const defaultText =
    schema.default === undefined ? undefined : typeof schema.default === "boolean" ? (schema.default ? "1" : "0") : String(schema.default);
  const expected: Record<string, string | undefined> = { Default: defaultText, Required: defaultText === undefined ? undefined : "Y" };
  if (schema.type === "integer") {
    Object.assign(expected, { type: "IntegerField", MinimumValue: String(schema.minimum), MaximumValue: String(schema.maximum) });
  } else if (schema.type === "boolean") {
    expected.type = "BooleanField";
  } else if (schema.enum) {
    expected.type = "OptionField";
    expect(
      child(node, "OptionValues")!.children.map((option) => option.tag),
      `${where}: options`,
    ).toEqual(schema.enum.map(String));
  } else {
    expected.type = "TextField";
  }
  const actual: Record<string, string | undefined> = { type: node.attrs.type };
  for (const key of Object.keys(expected)) if (key !== "type") actual[key] = childText(node, key);
  expect(actual, where).toEqual(expected);
}

/** The schema node a plain field stands for: `X | false` and `"simulated" | path` are their string side. */
function valueSide(schema: JsonSchema): JsonSchema {
  if (!schema.anyOf) return schema;
  const strings = schema.anyOf.filter((option) => option.type === "string" && option.const === undefined);
  if (strings.length === 1) return { ...strings[0], default: schema.default };
  // socketGroup: a name or a gid, both stored as text.
  return { type: "string", default: schema.default };
}

function disabledByFalse(schema: JsonSchema): boolean {
  return schema.anyOf?.some((option) => option.const === false) ?? false;
}

describe("the model and the zod schema", () => {
  test("have the same settings, apart from the listed exceptions", () => {
    for (const key of SCHEMA_ONLY) expect(Object.keys(PROPERTIES), `"${key}" is still a schema key`).toContain(key);
    const expectedFields = [...Object.keys(PROPERTIES).filter((key) => !SCHEMA_ONLY.includes(key)), ...MODEL_ONLY].sort();
    expect(ITEMS.children.map((node) => node.tag).sort()).toEqual(expectedFields);
  });

  for (const [key, schema] of Object.entries(PROPERTIES)) {
    if (SCHEMA_ONLY.includes(key) || schema.type === "object") continue;
    test(`"${key}" has the schema's type, bounds and default`, () => {
      expectField(field(ITEMS, key), valueSide(schema), key);
      if (disabledByFalse(schema)) {
        // `key = false` is a switch beside the value, on (1) unless the schema's default is false.
        expectField(field(ITEMS, `${key}Enabled`), { type: "boolean", default: schema.default !== false }, `${key}Enabled`);
      }
    });
  }

  test("hookEnv is a list of variables: a unique portable name and a value", () => {
    expect(PROPERTIES.hookEnv!.additionalProperties!.type).toBe("string");
    const variable = field(ITEMS, "hookEnv").children;
    expect(variable.map((node) => [node.tag, node.attrs.type])).toEqual([["variable", "ArrayField"]]);
    const [entry] = variable;
    expect(entry!.children.map((node) => node.tag)).toEqual(["name", "value"]);
    expect(field(entry!, "name").attrs.type).toBe("TextField");
    expect(childText(field(entry!, "name"), "Required")).toBe("Y");
    expect(child(field(entry!, "name"), "Constraints")?.children[0]?.children.map((node) => node.text)).toContain("UniqueConstraint");
    expectField(field(entry!, "value"), { type: "string" }, "hookEnv value");
  });

  test("hooks is a list of checks with the schema's per-check settings", () => {
    const perCheck = PROPERTIES.hooks!.additionalProperties!.properties!;
    const checks = field(ITEMS, "hooks").children;
    expect(checks.map((node) => [node.tag, node.attrs.type])).toEqual([["hook", "ArrayField"]]);
    const check = checks[0]!;
    expect(check.children.map((node) => node.tag).sort()).toEqual([...Object.keys(perCheck), ...CHECK_MODEL_ONLY].sort());
    for (const [key, schema] of Object.entries(perCheck)) {
      // Optional in the schema: an empty field means the general setting, except enabled, which the schema reads as true.
      const expected = key === "enabled" ? { ...schema, default: true } : schema;
      expectField(field(check, key), expected, `hooks.${key}`);
    }
    expect(childText(field(check, "name"), "Required")).toBe("Y");
    expect(child(field(check, "name"), "Constraints")?.children[0]?.children.map((node) => node.text)).toContain("UniqueConstraint");
  });

  test("gateways is a list of gateway checks with the schema's per-gateway settings; failOn a multiple choice of its statuses", () => {
    const perGateway = PROPERTIES.gateways!.additionalProperties!.properties!;
    const checks = field(ITEMS, "gateways").children;
    expect(checks.map((node) => [node.tag, node.attrs.type])).toEqual([["gateway", "ArrayField"]]);
    const check = checks[0]!;
    expect(check.children.map((node) => node.tag).sort()).toEqual([...Object.keys(perGateway), ...GATEWAY_MODEL_ONLY].sort());
    for (const [key, schema] of Object.entries(perGateway)) {
      if (key === "failOn") continue;
      // Optional in the schema: an empty field means the general setting, except enabled, which the schema reads as true.
      const expected = key === "enabled" ? { ...schema, default: true } : schema;
      expectField(field(check, key), expected, `gateways.${key}`);
    }
    // A list in the schema, a multiple OptionField in the model: its options (keys, or their value attribute) are the
    // schema's statuses, its default the schema's joined as the model stores a multiple choice, and at least one is required.
    const failOn = field(check, "failOn");
    const schema = perGateway.failOn!;
    expect(schema.type).toBe("array");
    expect(schema.minItems).toBe(1);
    expect(failOn.attrs.type).toBe("OptionField");
    expect(childText(failOn, "Multiple")).toBe("Y");
    expect(childText(failOn, "Required")).toBe("Y");
    expect(childText(failOn, "Default")).toBe((schema.default as string[]).join(","));
    expect(child(failOn, "OptionValues")!.children.map((option) => option.attrs.value ?? option.tag)).toEqual(
      schema.items!.enum!.map(String),
    );
    expect(childText(field(check, "name"), "Required")).toBe("Y");
    expect(childText(field(check, "name"), "Mask")).toBe(`/${GATEWAY_NAME_PATTERN.source}/D`);
    expect(child(field(check, "name"), "Constraints")?.children[0]?.children.map((node) => node.text)).toContain("UniqueConstraint");
  });
});
