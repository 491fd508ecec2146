import { describe, expect, it } from "vitest";
import { parseDuration } from "./duration.ts";

describe("parseDuration", () => {
  it("reads units and plain milliseconds", () => {
    expect(parseDuration("90s")).toBe(90_000);
    expect(parseDuration("15m")).toBe(900_000);
    expect(parseDuration("24h")).toBe(86_400_000);
    expect(parseDuration("2d")).toBe(172_800_000);
    expect(parseDuration("250")).toBe(250);
    expect(parseDuration("1.5s")).toBe(1500);
  });
  it("refuses what is not a positive duration", () => {
    for (const bad of ["", "soon", "-5m", "0", "10x", "m"]) expect(parseDuration(bad)).toBeUndefined();
  });
});
