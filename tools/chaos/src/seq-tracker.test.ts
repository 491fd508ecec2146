import { describe, expect, it } from "vitest";
import { SeqTracker } from "./seq-tracker.ts";

describe("contiguous seq tracking", () => {
  it("advances only over consecutive seqs and fills gaps later", () => {
    const t = new SeqTracker();
    t.init("c", 0);
    expect(t.observe("c", 1)).toBe(1);
    expect(t.observe("c", 2)).toBe(2);
    expect(t.observe("c", 4)).toBe(2);
    expect(t.observe("c", 5)).toBe(2);
    expect(t.aboveMark("c")).toBe(2);
    expect(t.observe("c", 3)).toBe(5);
    expect(t.aboveMark("c")).toBe(0);
  });

  it("ignores seqs at or below the mark (replays and duplicates)", () => {
    const t = new SeqTracker();
    t.init("c", 10);
    expect(t.observe("c", 3)).toBe(10);
    expect(t.observe("c", 10)).toBe(10);
    expect(t.observe("c", 11)).toBe(11);
    expect(t.observe("c", 11)).toBe(11);
    expect(t.aboveMark("c")).toBe(0);
  });

  it("starts an unknown conversation just below its first seq", () => {
    const t = new SeqTracker();
    expect(t.observe("other", 7)).toBe(7);
    expect(t.observe("other", 9)).toBe(7);
    expect(t.marks()).toEqual({ other: 7 });
  });

  it("keeps the highest known mark when initialised again and closes gaps under it", () => {
    const t = new SeqTracker();
    t.init("c", 0);
    t.observe("c", 3);
    t.init("c", 2);
    expect(t.mark("c")).toBe(3);
    t.init("c", 1);
    expect(t.mark("c")).toBe(3);
  });

  it("gives a resume payload for every tracked conversation", () => {
    const t = new SeqTracker();
    t.init("a", 0);
    t.init("b", 4);
    t.observe("a", 1);
    t.observe("b", 6);
    expect(t.marks()).toEqual({ a: 1, b: 4 });
    expect(t.mark("none")).toBeUndefined();
  });
});
