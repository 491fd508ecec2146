import { describe, expect, it } from "vitest";
import { ErrorCounter, percentile, summarize } from "./stats.ts";

describe("load-test statistics", () => {
  it("computes nearest-rank percentiles", () => {
    const values = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(values, 50)).toBe(50);
    expect(percentile(values, 99)).toBe(99);
    expect(percentile(values, 100)).toBe(100);
    expect(percentile([], 50)).toBe(0);
  });
  it("summarizes unsorted samples", () => {
    expect(summarize([5, 1, 3])).toMatchObject({ count: 3, min: 1, max: 5, avg: 3, p50: 3 });
  });
  it("groups errors by cause, most frequent first", () => {
    const e = new ErrorCounter();
    e.add("timeout");
    e.add("refused");
    e.add("timeout");
    expect(Object.entries(e.toObject())).toEqual([
      ["timeout", 2],
      ["refused", 1],
    ]);
  });
});
