import pkg from "../../package.json" with { type: "json" };

/** The release, from package.json (bundled into compiled executables). */
export const VERSION: string = pkg.version;
