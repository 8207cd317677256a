/**
 * `[hooks."NAME"]` tables that name no entry of the hooks directory: their settings (a timeout,
 * fall, rise) would silently apply to nothing. Each is named with the nearest entry when one is
 * near ("did you mean frr_ospf?"). Free of zod: an evaluation warns about them too.
 */
import { readdirSync } from "node:fs";
import { escapeControl } from "../common/escape.ts";
import type { ConfigWarning } from "./notices.ts";
import { didYouMean } from "./suggest.ts";
import { formatTomlString } from "./toml-print.ts";

/** How a hook's table is written in the file: its name a TOML basic string, so control characters show escaped. */
export function hookTable(name: string): string {
  return `[hooks.${formatTomlString(name)}]`;
}

/** A warning for each `[hooks."NAME"]` that matches none of `entries`, the hooks directory's names. */
export function unmatchedHookWarnings(
  config: { hooks: Record<string, unknown>; hooksDir: string },
  entries: readonly string[],
): ConfigWarning[] {
  // Dotfiles are never hooks (the stock script's glob skips them); sorted, so a tie is decided the same way every time.
  const candidates = entries.filter((entry) => !entry.startsWith(".")).sort();
  return Object.keys(config.hooks)
    .filter((name) => !entries.includes(name))
    .map((name) => {
      const where = `${hookTable(name)} names no file in "${escapeControl(config.hooksDir)}"`;
      const suggestion = didYouMean(name, candidates);
      return { message: suggestion === "" ? `${where} (yet?): its settings apply to no hook` : `${where}${suggestion}`, fix: null };
    });
}

/** The names in the hooks directory; throws as readdir does (a missing directory, no permission). */
export function listHookNames(hooksDir: string): string[] {
  return readdirSync(hooksDir);
}
