/**
 * Writing a configuration as TOML that reads back to the same values: what `config` prints and
 * the sample shows. Only what the schema holds: strings, integers, booleans, lists and tables of them.
 */

/** A key as written: bare when TOML allows (letters, digits, `-`, `_`), else quoted. */
export function formatTomlKey(key: string): string {
  return /^[A-Za-z0-9_-]+$/.test(key) ? key : formatTomlString(key);
}

/** The escapes both Bun versions read back right (Bun 1.3 reads `\\t` as a form feed and `\\f` as a tab). */
const ESCAPES: Record<string, string> = { '"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\b": "\\b" };

/**
 * A basic string: `"`, `\` and the control characters TOML forbids raw are escaped, a tab is
 * written as it is (TOML allows it), every other character too (UTF-8 on output).
 */
export function formatTomlString(text: string): string {
  const escaped = text.replace(
    // biome-ignore lint/suspicious/noControlCharactersInRegex: escaping control characters is the point
    /["\\\u0000-\u0008\u000a-\u001f\u007f]/g,
    (char) => ESCAPES[char] ?? `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
  return `"${escaped}"`;
}

function isTable(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A value in TOML syntax; a list is `["a", "b"]`, a table inline: `{ A = "1" }`. Throws for what the schema never holds. */
export function formatTomlValue(value: unknown, key: string): string {
  if (typeof value === "string") return formatTomlString(value);
  if (typeof value === "boolean") return String(value);
  if (typeof value === "number" && Number.isInteger(value)) return String(value);
  if (Array.isArray(value)) return `[${value.map((item, i) => formatTomlValue(item, `${key}[${i}]`)).join(", ")}]`;
  if (isTable(value)) {
    const entries = Object.entries(value).map(([name, item]) => `${formatTomlKey(name)} = ${formatTomlValue(item, `${key}.${name}`)}`);
    return entries.length === 0 ? "{}" : `{ ${entries.join(", ")} }`;
  }
  throw new TypeError(`No TOML rendering for the value of "${key}" (${typeof value})`);
}

function headerOf(path: readonly string[]): string {
  return `[${path.map((segment, i) => (i === 0 ? formatTomlKey(segment) : formatTomlString(segment))).join(".")}]`;
}

/**
 * A table's lines: its header, its plain values, then each table inside it under its own header
 * (`[hooks."frr_ospf"]`): in TOML every key after a header belongs to it, so no plain value may
 * follow one. A table holding only tables needs no header of its own; an empty one shows its
 * header, which is what makes it exist. Names below the first level are always quoted, as the
 * docs write hook names. At the top, an empty table stays inline (`hookEnv = {}`), so every key shows.
 */
function tableLines(path: readonly string[], table: Record<string, unknown>): string[] {
  const top = path.length === 0;
  const plain: string[] = [];
  const nested: Array<[string, Record<string, unknown>]> = [];
  for (const [key, value] of Object.entries(table)) {
    if (value === undefined) continue;
    if (isTable(value) && !(top && Object.keys(value).length === 0)) nested.push([key, value]);
    else plain.push(`${formatTomlKey(key)} = ${formatTomlValue(value, [...path, key].join("."))}`);
  }
  const lines = !top && (plain.length > 0 || nested.length === 0) ? ["", headerOf(path), ...plain] : plain;
  for (const [key, value] of nested) lines.push(...tableLines([...path, key], value));
  return lines;
}

/** A whole configuration: top-level keys in order, then its tables, each under its header. */
export function formatTomlDocument(config: Record<string, unknown>): string {
  return `${tableLines([], config).join("\n")}\n`;
}
