import { describe, expect, test } from "bun:test";
import { escapeControl, escapeText } from "../src/common/escape.ts";

describe("escapeText: names and output, unambiguous", () => {
  const table: Array<[what: string, input: string, shown: string]> = [
    ["plain ASCII is unchanged", "unbound", "unbound"],
    ["spaces, punctuation and quotes are unchanged", 'my check % "x"', 'my check % "x"'],
    ["non-ASCII letters are unchanged", "Überprüfung-日本-🚦", "Überprüfung-日本-🚦"],
    ["a backslash is doubled, so a backslash and an n read as such", "a\\nb", "a\\\\nb"],
    ["newline, carriage return and tab get their names", "a\nb\rc\td", "a\\nb\\rc\\td"],
    ["NUL", "a\u0000b", "a\\x00b"],
    ["ESC, so no terminal sequence survives", "\u001b[2J\u001b[31mred", "\\x1b[2J\\x1b[31mred"],
    ["the last C0 control", "\u001f", "\\x1f"],
    ["DEL", "\u007f", "\\x7f"],
    ["C1 controls (CSI, NEL)", "\u009b31m\u0085", "\\x9b31m\\x85"],
    ["the first character past C1 is a letter", "\u00a0\u00e9", "\u00a0\u00e9"],
    ["the empty string", "", ""],
  ];
  test.each(table)("%s", (_, input, shown) => {
    expect(escapeText(input)).toBe(shown);
  });

  test("a real newline and a backslash followed by n are shown apart", () => {
    expect(escapeText("a\nb")).not.toBe(escapeText("a\\nb"));
    expect(escapeText("\u001b")).not.toBe(escapeText("\\x1b"));
  });

  /** Reads escapeText's output back: if every text comes back exactly, no two are shown alike. */
  function readBack(shown: string): string {
    return shown.replace(/\\(\\|n|r|t|x[0-9a-f]{2})/g, (_, e: string) =>
      e === "\\" ? "\\" : e === "n" ? "\n" : e === "r" ? "\r" : e === "t" ? "\t" : String.fromCharCode(Number.parseInt(e.slice(1), 16)),
    );
  }

  test("every text can be read back exactly from what is shown", () => {
    const alphabet = ["\\", "n", "x", "1", "b", "\n", "\t", "\r", "\u0000", "\u001b", "\u0085", "é", " "];
    const texts = ["\\\\n", "\\\n", "\\x1b", "\\\u001b", "a\\\\\\nb"];
    // Every string of up to four characters of the alphabet: the cases where escapes could meet.
    let level = [""];
    for (let length = 1; length <= 4; length++) {
      level = level.flatMap((prefix) => alphabet.map((char) => prefix + char));
      texts.push(...level);
    }
    for (const text of texts) expect(readBack(escapeText(text))).toBe(text);
  });
});

describe("escapeControl: the sinks' safety net", () => {
  test("makes control characters visible as escapeText does", () => {
    expect(escapeControl("a\nb\u001b[0m\u0085\u0000")).toBe("a\\nb\\x1b[0m\\x85\\x00");
  });

  test("leaves a backslash as it is: a command with backslashes still pastes", () => {
    expect(escapeControl(`mv -- "$(printf '/h/b\\377a')" "/h/NEW-NAME"`)).toBe(`mv -- "$(printf '/h/b\\377a')" "/h/NEW-NAME"`);
  });

  test("over text holding names escaped already, changes nothing more", () => {
    const once = `hook "${escapeText("a\nb\\n\u001b")}" failed`;
    expect(escapeControl(once)).toBe(once);
    expect(escapeControl(escapeControl("a\nb\u001b[0m\u0085"))).toBe(escapeControl("a\nb\u001b[0m\u0085"));
  });
});
