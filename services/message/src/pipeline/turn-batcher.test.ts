import { describe, expect, it } from "vitest";
import { createTurnBatcher } from "./turn-batcher.ts";

describe("createTurnBatcher", () => {
  it("runs the calls of one turn together and answers each its own result", async () => {
    const runs: number[][] = [];
    const double = createTurnBatcher(async (xs: number[]) => {
      runs.push(xs);
      return xs.map((x) => x * 2);
    });
    const first = await Promise.all([double(1), double(2), Promise.resolve().then(() => double(3))]);
    const later = await double(4);
    expect(first).toEqual([2, 4, 6]);
    expect(later).toBe(8);
    expect(runs).toEqual([[1, 2, 3], [4]]);
  });

  it("fails every call of a turn whose run failed, and the next turn runs anew", async () => {
    let fail = true;
    const echo = createTurnBatcher(async (xs: string[]) => {
      if (fail) throw new Error("store down");
      return xs;
    });
    const results = await Promise.allSettled([echo("a"), echo("b")]);
    expect(results.map((r) => r.status)).toEqual(["rejected", "rejected"]);
    fail = false;
    await expect(echo("c")).resolves.toBe("c");
  });
});
