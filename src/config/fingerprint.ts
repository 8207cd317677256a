/**
 * A Bun macro (imported `with { type: "macro" }`): runs when the importing code is transpiled or
 * bundled and is inlined as a literal. The fingerprint of everything that decides whether a config
 * file is valid and what it means: the source of src/config/ (the schema, its checks, the TOML
 * parsing) and the versions of zod, smol-toml and croner. A validated-config cache entry made by
 * another schema never matches (cache.ts).
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const PACKAGES = ["zod", "smol-toml", "croner"];

/** sha256, hex, of src/config/*.ts and the validating packages' versions. */
export function schemaFingerprint(): string {
  const hasher = new Bun.CryptoHasher("sha256");
  const dir = import.meta.dir;
  for (const name of readdirSync(dir)
    .filter((file) => file.endsWith(".ts"))
    .sort()) {
    hasher.update(`${name}\0`);
    hasher.update(readFileSync(join(dir, name)));
  }
  const modules = join(dir, "..", "..", "node_modules");
  for (const name of PACKAGES) {
    const { version } = JSON.parse(readFileSync(join(modules, name, "package.json"), "utf8")) as { version: string };
    hasher.update(`${name}@${version}\0`);
  }
  return hasher.digest("hex");
}
