import { describe, expect, it } from "vitest";
import { countBy, longestGap, percentile } from "./stats.ts";

describe("chaos statistics", () => {
  it("finds the longest pause between consecutive deliveries, in any order", () => {
    expect(longestGap([])).toBe(0);
    expect(longestGap([5])).toBe(0);
    expect(longestGap([1000, 1010, 1020, 4020, 4030])).toBe(3000);
    expect(longestGap([4030, 1000, 4020, 1020, 1010])).toBe(3000);
    expect(longestGap([7, 7, 7])).toBe(0);
  });

  it("computes nearest-rank percentiles of sorted samples", () => {
    const values = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(values, 50)).toBe(50);
    expect(percentile(values, 99)).toBe(99);
    expect(percentile([], 99)).toBe(0);
  });

  it("counts by key, most frequent first", () => {
    expect(Object.entries(countBy(["B", "A", "B"]))).toEqual([
      ["B", 2],
      ["A", 1],
    ]);
  });
});
