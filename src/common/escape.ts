/**
 * Hook names and hook output are chosen by whoever writes the hooks. Shown raw, a newline in a
 * name splits one syslog record into two, and an escape sequence in the output repaints the
 * terminal; shown with only the control characters escaped, the name `a\nb` (a backslash and an
 * n) reads the same as `a` newline `b`. So names and output are escaped with escapeText, once,
 * where they enter a text a person or a log reads; JSON replies keep the raw values, since JSON
 * escapes them and consumers need the real names. escapeControl is the safety net at the sinks
 * (tables, log lines, syslog records) for the rest of the text: it leaves backslashes alone, so it
 * can go over text that holds names escaped already, and commands with their backslashes still
 * paste.
 */

const NAMED: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

// C0 controls, DEL and C1 controls: the characters a terminal or syslog acts on rather than shows.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

// The same, and the backslash.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL_AND_BACKSLASH = /[\u0000-\u001f\u007f-\u009f\\]/g;

function escapeOne(char: string): string {
  if (char === "\\") return "\\\\";
  return NAMED[char] ?? `\\x${char.charCodeAt(0).toString(16).padStart(2, "0")}`;
}

/**
 * A hook's name or output as shown: `\n`, `\r` and `\t` as such, every other C0 control, DEL and
 * C1 control as `\xHH`, and a backslash doubled, so no two texts are shown alike and `a\nb` (a
 * backslash, then n) is shown `a\\nb`. Other text, non-ASCII letters included, is unchanged.
 * Not idempotent: escape each name or output once, where it enters the text shown.
 */
export function escapeText(text: string): string {
  return text.replace(CONTROL_AND_BACKSLASH, escapeOne);
}

/**
 * Makes control characters visible as escapeText does, and leaves backslashes as they are: the
 * last pass over text about to be shown (a table, a log line, a syslog record), which may hold
 * names escaped by escapeText already. Escaping twice changes nothing more.
 */
export function escapeControl(text: string): string {
  return text.replace(CONTROL, escapeOne);
}
