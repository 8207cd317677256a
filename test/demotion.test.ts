/** The demotion value taken apart for people, from 0 to stacked and negative values. */
import { describe, expect, test } from "bun:test";
import { findAnomalies, repairOf } from "../src/engine/decide.ts";
import { explainDemotion } from "../src/engine/demotion.ts";

const BIT = 1048576;

const cases: Array<[number, { ours: boolean; bits: number; rest: number; summary: string; fix: RegExp | null }]> = [
  [0, { ours: false, bits: 0, rest: 0, summary: "0: nothing demotes this node", fix: null }],
  [
    240,
    {
      ours: false,
      bits: 0,
      rest: 240,
      summary: "240: not ours; 240 = 1 x 240 from the kernel (a CARP interface down, send errors, pfsync bulk update or maintenance mode)",
      fix: null,
    },
  ],
  [BIT, { ours: true, bits: 1, rest: 0, summary: "1048576: our bit (2^20: a service check failed)", fix: null }],
  [
    BIT + 480,
    {
      ours: true,
      bits: 1,
      rest: 480,
      summary:
        "1049056: our bit (2^20: a service check failed) + 480 = 2 x 240 from the kernel (a CARP interface down, send errors, pfsync bulk update or maintenance mode)",
      fix: null,
    },
  ],
  [
    BIT + 5,
    {
      ours: true,
      bits: 1,
      rest: 5,
      summary:
        "1048581: our bit (2^20: a service check failed) + 5 not from us (a net.inet.carp.demotion tunable or a manual write; the kernel adds multiples of 240)",
      fix: null,
    },
  ],
  [
    2 * BIT,
    {
      ours: false,
      bits: 2,
      rest: 0,
      summary: "2097152: our 2^20 added 2 times (stacked)",
      fix: /^sysctl net\.inet\.carp\.demotion=-2097152 takes every 2\^20 off/,
    },
  ],
  [
    3 * BIT + 240,
    {
      ours: true,
      bits: 3,
      rest: 240,
      summary: expect.stringContaining("our 2^20 added 3 times (stacked) + 240 = 1 x 240") as unknown as string,
      fix: /=-3145728 /,
    },
  ],
  [
    -BIT,
    {
      ours: true,
      bits: 0,
      rest: -BIT,
      summary: expect.stringContaining("-1048576: negative") as unknown as string,
      fix: /^sysctl net\.inet\.carp\.demotion=1048576 brings it back to 0/,
    },
  ],
  [-240, { ours: true, bits: 0, rest: -240, summary: expect.stringContaining("-240: negative") as unknown as string, fix: /=240 / }],
];

for (const [value, expected] of cases) {
  test(`explains ${value}`, () => {
    const explained = explainDemotion(value);
    expect(explained).toMatchObject({ value, ours: expected.ours, bits: expected.bits, rest: expected.rest, summary: expected.summary });
    if (expected.fix === null) expect(explained.fix).toBeNull();
    else expect(explained.fix).toMatch(expected.fix);
  });
}

describe("one repair for a value that cannot be right", () => {
  test.each([
    [-1048576, "sysctl net.inet.carp.demotion=1048576"],
    [2 * 1048576, "sysctl net.inet.carp.demotion=-2097152"],
    [3 * 1048576 + 240, "sysctl net.inet.carp.demotion=-3145728"],
    [1048576 + 240, null],
    [240, null],
    [0, null],
  ])("%d: %s", (value, repair) => {
    expect(repairOf(value)).toBe(repair);
    // The anomaly and the explanation under the tables name the same command.
    const anomaly = findAnomalies(value)[0] ?? null;
    const fix = explainDemotion(value).fix;
    if (repair === null) {
      expect([anomaly, fix]).toEqual([null, null]);
    } else {
      expect(anomaly).toContain(`clear it with ${repair}`);
      expect(fix).toStartWith(repair);
    }
  });
});
