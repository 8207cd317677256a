/**
 * Where the daemon's socket is, for the lean clients (`trigger`, `status`, `maintenance`,
 * `configd`): read from the config file's `socket` key without loading zod (the daemon validated
 * that file), so these commands start nearly as fast as Bun itself.
 */
import { existsSync } from "node:fs";
import { CarpError, messageOf } from "../common/errors.ts";
import { readBoundedFile } from "../common/read-file.ts";
import { CONFIG_MAX_BYTES, DEFAULT_CONFIG_FILE, defaultPaths } from "./defaults.ts";

/** The socket path from the config file (`--config`, else the default file when it exists), or false. */
export function findSocket(configFile?: string): string | false {
  const file = configFile ?? (existsSync(DEFAULT_CONFIG_FILE) ? DEFAULT_CONFIG_FILE : null);
  if (file === null) return defaultPaths().socket;
  let parsed: Record<string, unknown>;
  try {
    parsed = Bun.TOML.parse(readBoundedFile(file, { maxBytes: CONFIG_MAX_BYTES })) as Record<string, unknown>;
  } catch (error) {
    throw new CarpError("config", `Cannot read config "${file}": ${messageOf(error)}`);
  }
  const socket = parsed.socket ?? defaultPaths().socket;
  if (socket !== false && (typeof socket !== "string" || socket === "")) {
    throw new CarpError("config", `Invalid config "${file}": socket must be a path or false`);
  }
  return socket;
}
