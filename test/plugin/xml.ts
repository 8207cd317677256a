/**
 * XML files of the plugin (model, forms, ACL, menu, widget metadata) as plain objects, parsed by
 * Python's ElementTree (the parser configd itself uses), so the tests read what OPNsense reads.
 */
import { testEnv } from "./testenv.ts";

export interface XmlNode {
  tag: string;
  attrs: Record<string, string>;
  /** The element's own text, trimmed ("" when none). */
  text: string;
  children: XmlNode[];
}

const TO_JSON = `
import json, sys
import xml.etree.ElementTree as ET
def node(e):
    return {"tag": e.tag, "attrs": dict(e.attrib), "text": (e.text or "").strip(), "children": [node(c) for c in e]}
print(json.dumps([node(ET.parse(path).getroot()) for path in sys.argv[1:]]))
`;

/** Parses XML files (one Python run for all of them). */
export function readXmlFiles(paths: string[]): XmlNode[] {
  const result = Bun.spawnSync([testEnv().python, "-c", TO_JSON, ...paths], { stdout: "pipe", stderr: "pipe" });
  if (result.exitCode !== 0) throw new Error(`Cannot parse ${paths.join(", ")}: ${result.stderr.toString()}`);
  return JSON.parse(result.stdout.toString()) as XmlNode[];
}

export function readXml(path: string): XmlNode {
  return readXmlFiles([path])[0]!;
}

/** The first child with this tag, or undefined. */
export function child(node: XmlNode, tag: string): XmlNode | undefined {
  return node.children.find((item) => item.tag === tag);
}

/** Text of the first child with this tag, or undefined when there is none. */
export function childText(node: XmlNode, tag: string): string | undefined {
  return child(node, tag)?.text;
}

/** Every node below (and including) this one, depth first. */
export function descendants(node: XmlNode): XmlNode[] {
  return [node, ...node.children.flatMap(descendants)];
}
