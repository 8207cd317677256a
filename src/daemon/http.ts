/**
 * The part of HTTP/1.1 the socket speaks, as pure functions: parse one request head from the bytes
 * received so far, and format one reply. No request of the protocol has a body, so bodies are only
 * bounded and skipped. Kept by hand rather than Bun.serve, whose Unix-socket server closes a
 * pipelined or half-closed connection while an async reply is pending (Bun 1.4.5).
 */

/** Largest request head (request line and headers) accepted. */
export const MAX_HEAD_BYTES = 8192;

export interface HttpRequest {
  method: string;
  /** The path without a query string. */
  path: string;
  /** Whether the connection stays open after the reply (HTTP/1.1 unless "Connection: close"). */
  keepAlive: boolean;
}

export type Parsed =
  | { kind: "incomplete" }
  | { kind: "request"; request: HttpRequest /** bytes of head and body */; length: number }
  | { kind: "error"; status: 400 | 413 | 431 | 501; message: string };

const HEAD_END = Buffer.from("\r\n\r\n");

/** Parses the first request in `received`; an error means the connection cannot go on. */
export function parseRequest(received: Buffer, { maxBodyBytes }: { maxBodyBytes: number }): Parsed {
  const end = received.indexOf(HEAD_END);
  if (end < 0) {
    return received.length > MAX_HEAD_BYTES
      ? { kind: "error", status: 431, message: `Request head larger than ${MAX_HEAD_BYTES} bytes` }
      : { kind: "incomplete" };
  }
  if (end > MAX_HEAD_BYTES) return { kind: "error", status: 431, message: `Request head larger than ${MAX_HEAD_BYTES} bytes` };
  const [requestLine = "", ...headerLines] = received.subarray(0, end).toString("latin1").split("\r\n");
  const match = /^([A-Z]+) (\S+) HTTP\/1\.([01])$/.exec(requestLine);
  if (!match) return { kind: "error", status: 400, message: "Malformed request line; send e.g. GET /status HTTP/1.1" };
  const headers = new Map<string, string>();
  for (const line of headerLines) {
    const colon = line.indexOf(":");
    if (colon <= 0) return { kind: "error", status: 400, message: "Malformed header line" };
    headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  if (headers.has("transfer-encoding")) return { kind: "error", status: 501, message: "Chunked request bodies are not accepted" };
  const lengthHeader = headers.get("content-length") ?? "0";
  if (!/^\d+$/.test(lengthHeader)) return { kind: "error", status: 400, message: "Malformed Content-Length" };
  const bodyBytes = Number(lengthHeader);
  if (bodyBytes > maxBodyBytes) return { kind: "error", status: 413, message: `Request body larger than ${maxBodyBytes} bytes` };
  const length = end + HEAD_END.length + bodyBytes;
  if (received.length < length) return { kind: "incomplete" };
  const [, method = "", target = "", minor] = match;
  const connection = headers.get("connection")?.toLowerCase() ?? "";
  const keepAlive = minor === "1" ? connection !== "close" : connection === "keep-alive";
  return { kind: "request", request: { method, path: target.split("?")[0]!, keepAlive }, length };
}

const REASONS: Record<number, string> = {
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

/**
 * One reply: a JSON body, or with `contentType` a text body sent as it is (the metrics).
 */
export function formatResponse(
  status: number,
  body: unknown,
  options: { close: boolean; headers?: Record<string, string>; contentType?: string },
): Buffer {
  const text = options.contentType === undefined ? JSON.stringify(body) : String(body);
  const json = Buffer.from(text);
  const headers = {
    "Content-Type": options.contentType ?? "application/json",
    "Content-Length": String(json.length),
    ...options.headers,
    ...(options.close ? { Connection: "close" } : {}),
  };
  const head = [`HTTP/1.1 ${status} ${REASONS[status] ?? "Unknown"}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)].join(
    "\r\n",
  );
  return Buffer.concat([Buffer.from(`${head}\r\n\r\n`), json]);
}
