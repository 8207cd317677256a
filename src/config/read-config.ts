/** Reading a config file's text: shared by the validating loader (config.ts) and the cache (cache.ts), free of zod. */
import { CarpError, messageOf } from "../common/errors.ts";
import { FileRefused, readBoundedFile } from "../common/read-file.ts";
import { CONFIG_MAX_BYTES } from "./defaults.ts";

/**
 * The text of a config file, bounded like every file we read: `--config /dev/zero` or a FIFO is
 * an error naming it, not a hang (common/read-file.ts).
 */
export function readConfigText(file: string): string {
  try {
    return readBoundedFile(file, { maxBytes: CONFIG_MAX_BYTES });
  } catch (error) {
    const fix = error instanceof FileRefused ? "; give the path of a TOML file" : "";
    throw new CarpError("config", `Cannot read config "${file}": ${messageOf(error)}${fix}`, { cause: error });
  }
}
