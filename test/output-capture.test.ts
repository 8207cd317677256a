import { expect, test } from "bun:test";
import { OutputCapture } from "../src/system/output-capture.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

test("keeps everything up to the limit, in order", () => {
  const capture = new OutputCapture(10);
  capture.push(bytes("abc"));
  capture.push(bytes("defgh"));
  capture.push(bytes("ij"));
  expect(capture.text()).toBe("abcdefghij");
  expect(capture.droppedBytes).toBe(0);
});

test("past the limit keeps the first and the last half and says how much lies between", () => {
  const capture = new OutputCapture(6);
  capture.push(bytes("first "));
  capture.push(bytes("middle middle "));
  capture.push(bytes("last"));
  expect(capture.text()).toBe("fir\n[… 18 bytes dropped …]\nast");
  expect(capture.droppedBytes).toBe(18);
});

test("the tail follows many small chunks", () => {
  const capture = new OutputCapture(4);
  for (const char of "abcdefghij") capture.push(bytes(char));
  expect(capture.text()).toBe("ab\n[… 6 bytes dropped …]\nij");
});

test("copies what it keeps, since a stream may reuse its buffer", () => {
  const capture = new OutputCapture(10);
  const chunk = bytes("abc");
  capture.push(chunk);
  chunk.set(bytes("xyz"));
  expect(capture.text()).toBe("abc");
});

test("a limit of zero keeps nothing", () => {
  const capture = new OutputCapture(0);
  capture.push(bytes("abc"));
  expect(capture.droppedBytes).toBe(3);
  expect(capture.text()).toBe("\n[… 3 bytes dropped …]\n");
});
