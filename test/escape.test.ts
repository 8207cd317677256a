import { describe, expect, test } from "bun:test";
import { escapeControl } from "../src/common/escape.ts";

describe("escapeControl", () => {
  const table: Array<[what: string, input: string, shown: string]> = [
    ["plain ASCII is unchanged", "unbound", "unbound"],
    ["spaces, punctuation and quotes are unchanged", 'my check % "x"', 'my check % "x"'],
    ["non-ASCII letters are unchanged", "Überprüfung-日本-🚦", "Überprüfung-日本-🚦"],
    ["a backslash stays as it is", "a\\nb", "a\\nb"],
    ["newline, carriage return and tab get their names", "a\nb\rc\td", "a\\nb\\rc\\td"],
    ["NUL", "a\u0000b", "a\\x00b"],
    ["ESC, so no terminal sequence survives", "\u001b[2J\u001b[31mred", "\\x1b[2J\\x1b[31mred"],
    ["the last C0 control", "\u001f", "\\x1f"],
    ["DEL", "\u007f", "\\x7f"],
    ["C1 controls (CSI, NEL)", "\u009b31m\u0085", "\\x9b31m\\x85"],
    ["the first character past C1 is a letter", "\u00a0\u00e9", "\u00a0\u00e9"],
    ["the empty string", "", ""],
  ];
  for (const [what, input, shown] of table) {
    test(what, () => expect(escapeControl(input)).toBe(shown));
  }

  test("escaping twice changes nothing more", () => {
    const once = escapeControl("a\nb\u001b[0m\u0085");
    expect(escapeControl(once)).toBe(once);
  });
});
