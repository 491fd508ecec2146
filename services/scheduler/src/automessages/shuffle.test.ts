import { describe, expect, it } from "vitest";
import { pairUp, shuffleInPlace } from "./shuffle.ts";

describe("shuffleInPlace", () => {
  it("is uniform enough: every permutation of 4 within 15% of its expected count", () => {
    const rounds = 48_000;
    const counts = new Map<string, number>();
    for (let r = 0; r < rounds; r++) {
      const key = shuffleInPlace(["a", "b", "c", "d"]).join("");
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    expect(counts.size).toBe(24);
    const expected = rounds / 24;
    for (const [perm, n] of counts) {
      expect(Math.abs(n - expected) / expected, perm).toBeLessThan(0.15);
    }
    // And the chi-square statistic stays below the 99.9th percentile for 23 degrees of freedom.
    const chi = [...counts.values()].reduce((sum, n) => sum + (n - expected) ** 2 / expected, 0);
    expect(chi).toBeLessThan(49.73);
  });

  it("puts each element in each position equally often", () => {
    const n = 10;
    const rounds = 20_000;
    const pos = Array.from({ length: n }, () => new Array<number>(n).fill(0));
    for (let r = 0; r < rounds; r++) {
      shuffleInPlace(Array.from({ length: n }, (_, i) => i)).forEach((v, i) => pos[v]![i]!++);
    }
    for (const row of pos) for (const c of row) expect(Math.abs(c - rounds / n) / (rounds / n)).toBeLessThan(0.12);
  });
});

describe("pairUp", () => {
  it("never pairs a user with themselves and uses everyone once as sender", () => {
    for (const size of [2, 3, 4, 5, 10, 11, 101]) {
      const users = Array.from({ length: size }, (_, i) => `u${i}`);
      const pairs = pairUp(shuffleInPlace([...users]));
      for (const p of pairs) expect(p.senderId).not.toBe(p.recipientId);
      const senders = pairs.map((p) => p.senderId);
      expect(new Set(senders).size).toBe(senders.length);
      expect(pairs).toHaveLength(size % 2 === 0 ? size / 2 : Math.floor(size / 2) + 1);
    }
  });

  it("handles the odd user out deliberately: they send to the first user", () => {
    expect(pairUp(["a", "b", "c"])).toEqual([
      { senderId: "a", recipientId: "b" },
      { senderId: "c", recipientId: "a" },
    ]);
    expect(pairUp(["a"])).toEqual([]);
    expect(pairUp([])).toEqual([]);
  });
});
