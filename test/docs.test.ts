/** The README and docs/: every relative link leads to a file, and every #anchor to a heading in it. */
import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { REPO } from "./helpers.ts";

const DOCUMENTS = [
  "README.md",
  ...readdirSync(join(REPO, "docs"))
    .filter((name) => name.endsWith(".md"))
    .map((name) => `docs/${name}`),
];
/** The README fits on a few screens; the rest lives in docs/. */
const README_MAX_LINES = 300;

/** Markdown without its fenced code blocks and inline code, where brackets are not links. */
function prose(text: string): string {
  return text.replace(/^```[\s\S]*?^```/gm, "").replace(/`[^`\n]*`/g, "code");
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens. */
function slugOf(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, "")
    .replace(/ /g, "-");
}

function anchorsOf(file: string): Set<string> {
  const text = readFileSync(file, "utf8").replace(/^```[\s\S]*?^```/gm, "");
  return new Set([...text.matchAll(/^#{1,6} (.+)$/gm)].map((match) => slugOf(match[1]!)));
}

function linksOf(file: string): string[] {
  return [...prose(readFileSync(file, "utf8")).matchAll(/\]\(([^)\s]+)\)/g)].map((match) => match[1]!);
}

describe("the documentation", () => {
  test("the README has at most 300 lines", () => {
    expect(readFileSync(join(REPO, "README.md"), "utf8").split("\n").length).toBeLessThanOrEqual(README_MAX_LINES);
  });

  test("anchors are GitHub's slugs of the headings", () => {
    expect(slugOf("`check --json` and the logs")).toBe("check---json-and-the-logs");
    expect(slugOf("doctor: the pre-flight")).toBe("doctor-the-pre-flight");
  });

  test.each(DOCUMENTS)("every link in %s resolves", (document) => {
    const file = join(REPO, document);
    const broken: string[] = [];
    for (const link of linksOf(file)) {
      if (/^[a-z]+:/.test(link)) continue; // http(s), mailto: not ours to check here
      const [path = "", anchor] = link.split("#");
      const target = path === "" ? file : resolve(dirname(file), path);
      if (!existsSync(target)) broken.push(`${link}: no file ${relative(REPO, target)}`);
      else if (anchor !== undefined && target.endsWith(".md") && !anchorsOf(target).has(anchor))
        broken.push(`${link}: no heading #${anchor} in ${relative(REPO, target)}`);
    }
    expect(broken).toEqual([]);
  });
});
