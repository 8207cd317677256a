/**
 * Hook names and hook output are chosen by whoever writes the hooks. Shown raw, a newline in a
 * name splits one syslog record into two, and an escape sequence in the output repaints the
 * terminal. Everything shown to a person or written to a log goes through escapeControl; JSON
 * replies keep the raw values, since JSON escapes them and consumers need the real names.
 */

const NAMED: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

// C0 controls, DEL and C1 controls: the characters a terminal or syslog acts on rather than shows.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

function escapeOne(char: string): string {
  return NAMED[char] ?? `\\x${char.charCodeAt(0).toString(16).padStart(2, "0")}`;
}

/**
 * Makes control characters visible: `\n`, `\r` and `\t` as such, every other C0 control, DEL and
 * C1 control as `\xHH`. Other text, non-ASCII letters included, is unchanged, and so is a
 * backslash: the result is for reading, not for unescaping. Escaping twice changes nothing more.
 */
export function escapeControl(text: string): string {
  return text.replace(CONTROL, escapeOne);
}
