/**
 * Parsing the config file's text. Bun's own TOML parser reads it; when it refuses the text, its
 * error has no line or column (Bun 1.4 gives none at all; 1.3 gives a position only on some
 * errors), so the text is parsed again with smol-toml, whose errors carry both. smol-toml is
 * loaded only then: a valid file (under Bun 1.3, one without a backslash), and every command that
 * reads none, never load it (about 2 ms on Bun 1.4, 4 ms on Bun 1.3, and 30 KB of the executable).
 *
 * Bun 1.3's parser also misreads escapes: `\t` as a form feed, `\f` as a tab, `\U0001F600` as
 * text, and refuses `\u0001`. Where it does, text with a backslash in it is read by smol-toml.
 */
import { CarpError, messageOf } from "../common/errors.ts";

function loadSmolToml(): typeof import("smol-toml") {
  // require(), not import(): a synchronous load, on the paths that need it only.
  return require("smol-toml") as typeof import("smol-toml");
}

/** Where in the text a parser stopped, 1-based, and what it said. */
export interface TomlProblem {
  line: number | null;
  column: number | null;
  message: string;
}

/**
 * The position of Bun 1.3's error (a BuildMessage with a `position`); Bun 1.4's has none. Not its
 * `line` and `column`: on any Error those are where the parser was called from, not the text.
 */
function bunPosition(error: unknown): { line: number; column: number } | null {
  const position = (error as { position?: { line?: unknown; column?: unknown } | null } | null)?.position;
  if (typeof position?.line === "number" && typeof position.column === "number") return { line: position.line, column: position.column };
  return null;
}

/** smol-toml's message without its prefix and its excerpt of the text (the position says where). */
function smolMessage(error: unknown): string {
  return messageOf(error)
    .split("\n")[0]!
    .replace(/^Invalid TOML document: /, "");
}

/** Bun's message without its prefix. */
function bunMessage(error: unknown): string {
  return messageOf(error).replace(/^TOML Parse error: /, "");
}

/**
 * Where and why text that Bun's parser refused is not TOML. smol-toml's verdict when it refuses
 * the text too (line, column and message agree then); else Bun's message, at Bun's position when
 * it gave one. Loads smol-toml.
 */
export function locateTomlError(text: string, bunError: unknown): TomlProblem {
  const { parse, TomlError } = loadSmolToml();
  try {
    parse(text);
  } catch (error) {
    if (error instanceof TomlError) return { line: error.line, column: error.column, message: smolMessage(error) };
  }
  const position = bunPosition(bunError);
  return { line: position?.line ?? null, column: position?.column ?? null, message: bunMessage(bunError) };
}

let escapesReadRight: boolean | undefined;

/** Whether this Bun's TOML parser reads string escapes as TOML says (Bun 1.4 does, 1.3 does not). Asked once. */
export function bunReadsEscapes(): boolean {
  if (escapesReadRight === undefined) {
    try {
      const { t } = Bun.TOML.parse('t = "\\t\\f\\u0001\\U0001F600"') as { t?: unknown };
      escapesReadRight = t === "\t\f\u0001\u{1F600}";
    } catch {
      escapesReadRight = false;
    }
  }
  return escapesReadRight;
}

function configError(file: string, problem: TomlProblem, cause: unknown): CarpError {
  const at = problem.line === null ? "" : ` at line ${problem.line}, column ${problem.column}`;
  return new CarpError("config", `Cannot parse config "${file}" as TOML${at}: ${problem.message}`, { cause });
}

/** Parses with smol-toml, for a Bun whose parser misreads escapes. */
function parseWithSmolToml(text: string, file: string): unknown {
  const { parse, TomlError } = loadSmolToml();
  try {
    return parse(text);
  } catch (error) {
    if (!(error instanceof TomlError)) throw error;
    throw configError(file, { line: error.line, column: error.column, message: smolMessage(error) }, error);
  }
}

/** Parses a config file's text; throws CarpError("config") naming the file, the line and the column. */
export function parseToml(text: string, file: string): unknown {
  if (text.includes("\\") && !bunReadsEscapes()) return parseWithSmolToml(text, file);
  try {
    return Bun.TOML.parse(text);
  } catch (error) {
    throw configError(file, locateTomlError(text, error), error);
  }
}
