/**
 * The part of HTTP/1.1 the socket speaks, as pure functions: parse one request (its head, and a
 * small body of Content-Length bytes) from the bytes received so far, and format one reply. Kept by hand rather than Bun.serve, whose Unix-socket server closes a
 * pipelined or half-closed connection while an async reply is pending (Bun 1.4.5).
 *
 * The framing follows RFC 9112 strictly, since a request smuggled past one reading of it is the
 * classic attack on a hand-written parser: lines end in CR LF (a bare LF or CR is refused as soon as
 * it arrives, not after a timeout), no NUL, no whitespace between a field name and its colon, no
 * obsolete line folding, one Content-Length of digits only. Each is a 400 and the connection closes.
 */

/** Largest request head (request line and headers) accepted. */
export const MAX_HEAD_BYTES = 8192;

export interface HttpRequest {
  method: string;
  /** The path without a query string. */
  path: string;
  /** HTTP/1.1 (interim replies allowed) rather than HTTP/1.0. */
  http11: boolean;
  /** Whether the connection stays open after the reply (HTTP/1.1 unless "Connection: close"). */
  keepAlive: boolean;
  /** The body, when the request has one (Content-Length above 0). */
  body?: Buffer;
}

export type Parsed =
  | { kind: "incomplete" }
  | { kind: "request"; request: HttpRequest /** bytes of head and body */; length: number }
  | { kind: "error"; status: 400 | 413 | 431 | 501; message: string };

const CR = 0x0d;
const LF = 0x0a;
const NUL = 0x00;
const HEAD_END = Buffer.from("\r\n\r\n");
/** RFC 9110 token: what a field name is made of (no whitespace, no separators). */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

function badRequest(message: string): Parsed {
  return { kind: "error", status: 400, message };
}

/**
 * The first framing fault in `head` (CR not before LF, LF not after CR, NUL), or null. `complete`
 * says whether `head` is a whole head: if not, a CR at its very end may still get its LF.
 */
function framingFault(head: Buffer, { complete }: { complete: boolean }): string | null {
  if (head.indexOf(NUL) >= 0) return "NUL byte in the request head";
  for (let at = head.indexOf(LF); at >= 0; at = head.indexOf(LF, at + 1)) {
    if (at === 0 || head[at - 1] !== CR) return "Bare LF in the request head; end lines with CR LF";
  }
  for (let at = head.indexOf(CR); at >= 0; at = head.indexOf(CR, at + 1)) {
    if (at + 1 === head.length && !complete) break;
    if (head[at + 1] !== LF) return "Bare CR in the request head; end lines with CR LF";
  }
  return null;
}

/** Parses the first request in `received`; an error means the connection cannot go on. */
export function parseRequest(received: Buffer, { maxBodyBytes }: { maxBodyBytes: number }): Parsed {
  // RFC 9112 2.2: empty lines before a request line (left by some clients after a body) are ignored.
  let start = 0;
  while (received[start] === CR && received[start + 1] === LF) start += 2;
  const end = received.indexOf(HEAD_END, start);
  const head = received.subarray(start, end < 0 ? received.length : end + 2);
  const fault = framingFault(head, { complete: end >= 0 });
  if (fault !== null) return badRequest(fault);
  if (head.length > MAX_HEAD_BYTES) return { kind: "error", status: 431, message: `Request head larger than ${MAX_HEAD_BYTES} bytes` };
  if (end < 0) return { kind: "incomplete" };
  const [requestLine = "", ...headerLines] = received.subarray(start, end).toString("latin1").split("\r\n");
  const match = /^([A-Z]+) (\S+) HTTP\/1\.([01])$/.exec(requestLine);
  if (!match) return badRequest("Malformed request line; send e.g. GET /status HTTP/1.1");
  const headers = new Map<string, string[]>();
  for (const line of headerLines) {
    if (line.startsWith(" ") || line.startsWith("\t")) return badRequest("Folded header line (obsolete line folding)");
    const colon = line.indexOf(":");
    const name = line.slice(0, Math.max(colon, 0));
    if (colon <= 0 || !TOKEN.test(name)) {
      return badRequest(`Malformed header line "${line.slice(0, 40)}"; no whitespace before the colon`);
    }
    const key = name.toLowerCase();
    headers.set(key, [...(headers.get(key) ?? []), line.slice(colon + 1).trim()]);
  }
  if (headers.has("transfer-encoding")) return { kind: "error", status: 501, message: "Chunked request bodies are not accepted" };
  const lengths = headers.get("content-length") ?? ["0"];
  if (lengths.length > 1) return badRequest("More than one Content-Length");
  if (!/^\d+$/.test(lengths[0]!)) return badRequest("Malformed Content-Length; send digits only");
  const bodyBytes = Number(lengths[0]);
  if (bodyBytes > maxBodyBytes) return { kind: "error", status: 413, message: `Request body larger than ${maxBodyBytes} bytes` };
  const length = end + HEAD_END.length + bodyBytes;
  if (received.length < length) return { kind: "incomplete" };
  const [, method = "", target = "", minor] = match;
  const connection = headers.get("connection")?.join(",").toLowerCase() ?? "";
  const options = connection.split(",").map((option) => option.trim());
  const keepAlive = minor === "1" ? !options.includes("close") : options.includes("keep-alive");
  const request: HttpRequest = { method, path: target.split("?")[0]!, http11: minor === "1", keepAlive };
  if (bodyBytes > 0) request.body = Buffer.from(received.subarray(end + HEAD_END.length, length));
  return { kind: "request", request, length };
}

const REASONS: Record<number, string> = {
  102: "Processing",
  200: "OK",
  400: "Bad Request",
  404: "Not Found",
  405: "Method Not Allowed",
  413: "Content Too Large",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  501: "Not Implemented",
  503: "Service Unavailable",
};

/** The serialized JSON of frozen objects, kept while they live. */
export type JsonCache = WeakMap<object, Buffer>;

function omitted(value: unknown): boolean {
  return value === undefined || typeof value === "function" || typeof value === "symbol";
}

/**
 * `JSON.stringify(value)` as chunks, in which a frozen object (a hook's entry in the status, which
 * is replaced, never changed) is serialized once and its bytes shared by every reply holding it:
 * 256 clients asking for a 300 KB status at once hold one copy of the hooks' output, not 256.
 */
export function jsonChunks(value: unknown, cache: JsonCache): Buffer[] {
  const chunks: Buffer[] = [];
  let text = "";
  const visit = (item: unknown): void => {
    if (typeof item !== "object" || item === null || typeof (item as { toJSON?: unknown }).toJSON === "function") {
      text += JSON.stringify(item) ?? "null";
    } else if (Object.isFrozen(item) && !Array.isArray(item)) {
      let bytes = cache.get(item);
      if (bytes === undefined) {
        bytes = Buffer.from(JSON.stringify(item));
        cache.set(item, bytes);
      }
      if (text !== "") chunks.push(Buffer.from(text));
      chunks.push(bytes);
      text = "";
    } else if (Array.isArray(item)) {
      text += "[";
      item.forEach((element, index) => {
        if (index > 0) text += ",";
        visit(omitted(element) ? null : element);
      });
      text += "]";
    } else {
      text += "{";
      let first = true;
      for (const [key, field] of Object.entries(item)) {
        if (omitted(field)) continue;
        text += `${first ? "" : ","}${JSON.stringify(key)}:`;
        first = false;
        visit(field);
      }
      text += "}";
    }
  };
  visit(value);
  if (text !== "") chunks.push(Buffer.from(text));
  return chunks;
}

/**
 * One reply as chunks: a JSON body, or with `contentType` a text body sent as it is (the metrics).
 * `cache` shares the bytes of frozen objects between replies (jsonChunks).
 */
export function formatResponse(
  status: number,
  body: unknown,
  options: { close: boolean; headers?: Record<string, string>; contentType?: string; cache?: JsonCache },
): Buffer[] {
  const chunks = options.contentType === undefined ? jsonChunks(body, options.cache ?? new WeakMap()) : [Buffer.from(String(body))];
  const length = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
  const headers = {
    "Content-Type": options.contentType ?? "application/json",
    "Content-Length": String(length),
    ...options.headers,
    ...(options.close ? { Connection: "close" } : {}),
  };
  const head = [`HTTP/1.1 ${status} ${REASONS[status] ?? "Unknown"}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)].join(
    "\r\n",
  );
  return [Buffer.from(`${head}\r\n\r\n`), ...chunks];
}

/**
 * An interim `102 Processing` (RFC 2518, still in the IANA registry for exactly this): "the request
 * is being worked on, the final reply follows". HTTP/1.1 clients (curl, fetch) skip it; a client
 * reads it as a sign of life. Never sent to an HTTP/1.0 client (RFC 9110 15.2).
 */
export function formatInterim(headers: Record<string, string> = {}): Buffer {
  const lines = [`HTTP/1.1 102 ${REASONS[102]}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
  return Buffer.from(`${lines.join("\r\n")}\r\n\r\n`);
}
