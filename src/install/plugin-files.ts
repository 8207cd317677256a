/**
 * The plugin os-carp-service-status as install lays it down: its files, embedded when this module
 * is transpiled or bundled (plugin-tree.ts, a Bun macro), and the package's own marker.
 */

import { readPluginTree } from "./plugin-tree.ts" with { type: "macro" };
import type { PluginTree } from "./plugin-tree.ts";

export type { PluginFile, PluginTree } from "./plugin-tree.ts";

let tree: PluginTree | undefined;

/**
 * The plugin's files. The literal sits inside this function, so a bundle that never installs
 * (the cold path of `check`) only scans it and never builds it.
 */
export function pluginTree(): PluginTree {
  tree ??= readPluginTree();
  return tree;
}
