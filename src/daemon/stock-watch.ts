/**
 * What the daemon says when the stock script comes back over our shim (a firmware update whose
 * update hook did not put the shim back) and when the shim is back: one log line per change, and
 * the anomaly `status` shows while it lasts. Pure; the daemon observes (install/stock-state.ts).
 */
import { escapeText } from "../common/escape.ts";
import type { StockScriptObservation } from "../protocol/wire.ts";

/** The anomaly while the stock script is back, and the warning when it comes back. */
export function stockBackMessage(path: string): string {
  return (
    `the stock script is back at "${escapeText(path)}" (a firmware update reinstalled it, and the update hook did not put our shim back): ` +
    "the boot hook and plugins run the stock script, not this daemon; fix: carp-service-status install --replace-stock"
  );
}

export type StockScriptChange = { level: "warn" | "info"; message: string } | null;

/** The log line for going from `before` (null at start) to `after`; null when there is nothing to say. */
export function stockScriptChange(before: StockScriptObservation | null, after: StockScriptObservation): StockScriptChange {
  if (after.state === "stock-back" && before?.state !== "stock-back") return { level: "warn", message: stockBackMessage(after.path) };
  if (after.state === "shim" && before?.state === "stock-back") {
    return { level: "info", message: `our shim is back at "${escapeText(after.path)}": the boot hook and plugins reach this daemon again` };
  }
  return null;
}
