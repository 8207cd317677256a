import { expect, test } from "bun:test";
import { OutputCapture } from "../src/output-capture.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

test("keeps chunks up to the limit and counts the rest", () => {
  const capture = new OutputCapture(5);
  capture.push(bytes("abc"));
  capture.push(bytes("defgh"));
  capture.push(bytes("ij"));
  expect(capture.text()).toBe("abcde");
  expect(capture.droppedBytes).toBe(5);
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
  expect(capture.text()).toBe("");
  expect(capture.droppedBytes).toBe(3);
});
