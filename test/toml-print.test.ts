/** The TOML that `config` prints and the sample shows: it reads back to the same values, under both Bun versions. */
import { describe, expect, test } from "bun:test";
import { parseToml } from "../src/config/toml.ts";
import { formatTomlDocument, formatTomlKey, formatTomlString } from "../src/config/toml-print.ts";

describe("formatTomlString", () => {
  const values = [
    "plain",
    'say "hi"',
    "back\\slash \\t \\n (not escapes)",
    "new\nline\r\n",
    "a\ttab",
    "form\ffeed and \bbackspace",
    "\u0001\u001b\u007f",
    "déjà vu ✓ 😀",
    "",
  ];
  for (const value of values) {
    test(`${JSON.stringify(value)} reads back as it was`, () => {
      // Read as a config file is read: Bun 1.3's own parser refuses \u0001 and \u001b.
      expect((parseToml(`v = ${formatTomlString(value)}`, "t.toml") as { v: string }).v).toBe(value);
    });
  }

  test("a tab is written as it is and a form feed as \\u000c: Bun 1.3 reads \\t and \\f the wrong way round", () => {
    expect(formatTomlString("a\tb\fc")).toBe('"a\tb\\u000cc"');
  });

  test("DEL, which JSON leaves raw and TOML forbids, is escaped", () => {
    expect(formatTomlString("\u007f")).toBe('"\\u007f"');
  });
});

describe("formatTomlKey", () => {
  test("bare when TOML allows, quoted otherwise", () => {
    expect(formatTomlKey("REQUESTS_CA_BUNDLE")).toBe("REQUESTS_CA_BUNDLE");
    expect(formatTomlKey("frr-ospf")).toBe("frr-ospf");
    expect(formatTomlKey("a.b")).toBe('"a.b"');
    expect(formatTomlKey("")).toBe('""');
    expect(formatTomlKey("é")).toBe('"é"');
  });
});

describe("formatTomlDocument", () => {
  test("plain keys first, then each table under its header; hook names quoted", () => {
    const text = formatTomlDocument({
      fall: 1,
      hookEnv: { A: "1" },
      socket: false,
      hooks: { frr_ospf: { fall: 3 }, "odd name": {} },
      empty: {},
    });
    expect(text).toBe('fall = 1\nsocket = false\nempty = {}\n\n[hookEnv]\nA = "1"\n\n[hooks."frr_ospf"]\nfall = 3\n\n[hooks."odd name"]\n');
  });

  test("a table holding plain values and tables: the values stay above the inner tables", () => {
    const value = { t: { a: 1, inner: { b: 2 }, c: "x" } };
    const text = formatTomlDocument(value);
    expect(text).toBe('\n[t]\na = 1\nc = "x"\n\n[t."inner"]\nb = 2\n');
    expect(parseToml(text, "t.toml")).toEqual(value);
  });

  test("unset (undefined) keys are left out", () => {
    expect(formatTomlDocument({ a: 1, b: undefined })).toBe("a = 1\n");
  });
});
