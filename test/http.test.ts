/** The HTTP subset the socket speaks: request heads parsed from the bytes received so far. */
import { describe, expect, test } from "bun:test";
import { formatInterim, formatResponse, jsonChunks, MAX_HEAD_BYTES, parseRequest } from "../src/daemon/http.ts";

const LIMITS = { maxBodyBytes: 1024 };
const parse = (text: string) => parseRequest(Buffer.from(text), LIMITS);

describe("parseRequest", () => {
  const cases: Array<[string, string, ReturnType<typeof parseRequest>]> = [
    [
      "an HTTP/1.1 request keeps the connection",
      "GET /status HTTP/1.1\r\nHost: x\r\n\r\n",
      { kind: "request", request: { method: "GET", path: "/status", http11: true, keepAlive: true }, length: 33 },
    ],
    [
      "Connection: close ends it after the reply",
      "POST /evaluate HTTP/1.1\r\nConnection: close\r\n\r\n",
      { kind: "request", request: { method: "POST", path: "/evaluate", http11: true, keepAlive: false }, length: 46 },
    ],
    [
      "an HTTP/1.0 request (as nc sends it) closes",
      "GET /status HTTP/1.0\r\n\r\n",
      { kind: "request", request: { method: "GET", path: "/status", http11: false, keepAlive: false }, length: 24 },
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
    [
      "an HTTP/1.0 client may keep the connection with Connection: keep-alive",
      "GET /status HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
      expect.objectContaining({ request: expect.objectContaining({ keepAlive: true, http11: false }) }),
    ],
    [
      "close among several connection options still closes",
      "GET /status HTTP/1.1\r\nConnection: TE, close\r\n\r\n",
      expect.objectContaining({ request: expect.objectContaining({ keepAlive: false }) }),
    ],
    [
      "empty lines before the request line are ignored (RFC 9112 2.2)",
      "\r\n\r\nGET /status HTTP/1.1\r\n\r\n",
      expect.objectContaining({ kind: "request", length: "\r\n\r\nGET /status HTTP/1.1\r\n\r\n".length }),
    ],
  ];
  for (const [name, text, expected] of cases) test(name, () => expect(parse(text)).toEqual(expected));

  // RFC 9112: each of these is a 400 and the connection closes, so no reading of the framing can
  // differ between us and whatever passed the bytes on (request smuggling).
  const refused: Array<[string, string, string]> = [
    [
      "a duplicate Content-Length",
      "POST /evaluate HTTP/1.1\r\nContent-Length: 0\r\nContent-Length: 5\r\n\r\n",
      "More than one Content-Length",
    ],
    [
      "the same Content-Length twice",
      "POST /evaluate HTTP/1.1\r\nContent-Length: 2\r\ncontent-length: 2\r\n\r\n{}",
      "More than one Content-Length",
    ],
    ["a Content-Length list", "POST /evaluate HTTP/1.1\r\nContent-Length: 2, 2\r\n\r\n{}", "Malformed Content-Length"],
    ["a signed Content-Length", "POST /evaluate HTTP/1.1\r\nContent-Length: +2\r\n\r\n{}", "Malformed Content-Length"],
    ["an empty Content-Length", "POST /evaluate HTTP/1.1\r\nContent-Length:\r\n\r\n", "Malformed Content-Length"],
    ["whitespace before the colon", "POST /evaluate HTTP/1.1\r\nContent-Length : 5\r\n\r\nhello", "no whitespace before the colon"],
    ["a tab before the colon", "GET /status HTTP/1.1\r\nHost\t: x\r\n\r\n", "no whitespace before the colon"],
    ["a field name that is not a token", "GET /status HTTP/1.1\r\nX(y): 1\r\n\r\n", "Malformed header line"],
    ["an obsolete folded line", "GET /status HTTP/1.1\r\nX-A: 1\r\n 2\r\n\r\n", "Folded header line"],
    ["NUL in a header value", "GET /status HTTP/1.1\r\nX-A: a\0b\r\n\r\n", "NUL byte"],
    ["NUL in the request line", "GET /sta\0tus HTTP/1.1\r\n\r\n", "NUL byte"],
    ["bare LF line ends", "GET /status HTTP/1.0\n\n", "Bare LF"],
    ["one bare LF among CR LF", "GET /status HTTP/1.1\r\nHost: x\nX: y\r\n\r\n", "Bare LF"],
    ["a bare CR", "GET /status HTTP/1.1\r\nHost: x\ry\r\n\r\n", "Bare CR"],
  ];
  for (const [what, text, message] of refused) {
    test(`refuses ${what} with 400`, () => {
      const parsed = parse(text);
      expect(parsed).toMatchObject({ kind: "error", status: 400 });
      expect(parsed.kind === "error" && parsed.message).toContain(message);
    });
  }

  test("a bare LF or NUL is refused as soon as it arrives, not when the head would end", () => {
    expect(parse("GET /status HTTP/1.1\n")).toMatchObject({ kind: "error", status: 400 });
    expect(parse("GET /status HTTP/1.1\r\nHost: \0")).toMatchObject({ kind: "error", status: 400 });
    // A CR that is the last byte so far may still get its LF.
    expect(parse("GET /status HTTP/1.1\r")).toEqual({ kind: "incomplete" });
  });

  test("the body of a pipelined request is not checked as a head", () => {
    const bytes = "POST /evaluate HTTP/1.1\r\nContent-Length: 3\r\n\r\n\n\0\rGET /status HTTP/1.1\r\n\r\n";
    expect(parse(bytes)).toMatchObject({ kind: "request", length: bytes.indexOf("GET") });
  });

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

test("formatInterim writes a 102 Processing head with its headers and no body", () => {
  expect(formatInterim({ "x-v": "2.0" }).toString()).toBe("HTTP/1.1 102 Processing\r\nx-v: 2.0\r\n\r\n");
});

test("formatResponse writes a complete reply with its length, and says when it closes", () => {
  const text = Buffer.concat(formatResponse(404, { error: "x" }, { close: true, headers: { Allow: "GET" } })).toString();
  expect(text).toBe(
    'HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 13\r\nAllow: GET\r\nConnection: close\r\n\r\n{"error":"x"}',
  );
});

describe("jsonChunks", () => {
  const frozen = Object.freeze({ name: "svc", output: "x".repeat(1000), warnings: [] });
  const values: unknown[] = [
    null,
    42,
    'text with "quotes" and \n and \u0001 and ü and 🚀',
    [1, undefined, () => 1, "a"],
    { a: 1, skipped: undefined, fn: () => 1, nested: { b: [true, false, null] }, date: new Date(0), empty: {} },
    { services: [frozen, frozen, { ...frozen }], count: 2 },
    frozen,
    [],
  ];
  for (const value of values) {
    test(`is JSON.stringify's text for ${JSON.stringify(value)?.slice(0, 40)}`, () => {
      expect(Buffer.concat(jsonChunks(value, new WeakMap())).toString()).toBe(JSON.stringify(value));
    });
  }

  test("shares the bytes of a frozen object between replies, and only of frozen ones", () => {
    const cache = new WeakMap<object, Buffer>();
    const open = { output: "y".repeat(1000) };
    const first = jsonChunks({ services: [frozen, open] }, cache);
    const second = jsonChunks({ services: [frozen, open], uptimeMs: 2 }, cache);
    const shared = first.filter((chunk) => second.includes(chunk));
    expect(shared).toHaveLength(1);
    expect(shared[0]!.toString()).toBe(JSON.stringify(frozen));
  });
});
