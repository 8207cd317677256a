/** The HTTP subset the socket speaks: request heads parsed from the bytes received so far. */
import { describe, expect, test } from "bun:test";
import { formatResponse, MAX_HEAD_BYTES, parseRequest } from "../src/daemon/http.ts";

const LIMITS = { maxBodyBytes: 1024 };
const parse = (text: string) => parseRequest(Buffer.from(text), LIMITS);

describe("parseRequest", () => {
  const cases: Array<[string, string, ReturnType<typeof parseRequest>]> = [
    [
      "an HTTP/1.1 request keeps the connection",
      "GET /status HTTP/1.1\r\nHost: x\r\n\r\n",
      { kind: "request", request: { method: "GET", path: "/status", keepAlive: true }, length: 33 },
    ],
    [
      "Connection: close ends it after the reply",
      "POST /evaluate HTTP/1.1\r\nConnection: close\r\n\r\n",
      { kind: "request", request: { method: "POST", path: "/evaluate", keepAlive: false }, length: 46 },
    ],
    [
      "an HTTP/1.0 request (as nc sends it) closes",
      "GET /status HTTP/1.0\r\n\r\n",
      { kind: "request", request: { method: "GET", path: "/status", keepAlive: false }, length: 24 },
    ],
    [
      "a query string is not part of the path",
      "GET /status?x=1 HTTP/1.0\r\n\r\n",
      expect.objectContaining({ request: expect.objectContaining({ path: "/status" }) }),
    ],
    ["a head without its end waits for more", "GET /status HTTP/1.1\r\nHost: x\r\n", { kind: "incomplete" }],
    ["a body not yet received waits for more", "POST /evaluate HTTP/1.1\r\nContent-Length: 5\r\n\r\nab", { kind: "incomplete" }],
    [
      "a small body is skipped with the request",
      "POST /evaluate HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}GET",
      expect.objectContaining({ kind: "request", length: "POST /evaluate HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}".length }),
    ],
    ["garbage is a bad request", "garbage\r\n\r\n", expect.objectContaining({ kind: "error", status: 400 })],
    [
      "a header without a colon is a bad request",
      "GET /status HTTP/1.1\r\nnonsense\r\n\r\n",
      expect.objectContaining({ kind: "error", status: 400 }),
    ],
    [
      "a body over the limit is refused at once",
      "POST /evaluate HTTP/1.1\r\nContent-Length: 65536\r\n\r\n",
      expect.objectContaining({ kind: "error", status: 413 }),
    ],
    [
      "a chunked body is not accepted",
      "POST /evaluate HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
      expect.objectContaining({ kind: "error", status: 501 }),
    ],
    [
      "a bad Content-Length is a bad request",
      "POST /evaluate HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
      expect.objectContaining({ kind: "error", status: 400 }),
    ],
  ];
  for (const [name, text, expected] of cases) test(name, () => expect(parse(text)).toEqual(expected));

  test("a head past the limit without an end is refused before it is complete", () => {
    expect(parse(`GET /status HTTP/1.1\r\nX: ${"y".repeat(MAX_HEAD_BYTES)}`)).toMatchObject({ kind: "error", status: 431 });
  });

  test("pipelined requests are taken one at a time", () => {
    const bytes = Buffer.from("POST /evaluate HTTP/1.1\r\n\r\nGET /status HTTP/1.1\r\n\r\n");
    const first = parseRequest(bytes, LIMITS);
    expect(first).toMatchObject({ kind: "request", request: { path: "/evaluate" } });
    const second = parseRequest(bytes.subarray(first.kind === "request" ? first.length : 0), LIMITS);
    expect(second).toMatchObject({ kind: "request", request: { path: "/status" } });
  });
});

test("formatResponse writes a complete reply with its length, and says when it closes", () => {
  const text = formatResponse(404, { error: "x" }, { close: true, headers: { Allow: "GET" } }).toString();
  expect(text).toBe(
    'HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 13\r\nAllow: GET\r\nConnection: close\r\n\r\n{"error":"x"}',
  );
});
