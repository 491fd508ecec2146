import { describe, expect, it } from "vitest";
import type { ChaosReport } from "./ledger.ts";
import type { ReadinessRecord } from "./readiness.ts";
import { formatRow, recoverySeconds, rowFailed, type ScenarioRow } from "./report-table.ts";

const report = (over: Partial<ChaosReport> = {}): ChaosReport => ({
  window: { from: 0, to: 1 },
  sent: 10,
  acknowledged: 10,
  unacknowledged: 0,
  delivered: 10,
  lost: 0,
  lostSamples: [],
  duplicatesShown: 0,
  rawDuplicates: 2,
  misrouted: 0,
  ackFailures: { ACK_TIMEOUT: 3, KAFKA_UNAVAILABLE: 1 },
  longestPauseMs: 4250,
  ackP50Ms: 5,
  ackP99Ms: 50,
  maxAckMs: 15_000,
  otherMessages: 0,
  ...over,
});

const ready = (over: Partial<ReadinessRecord> = {}): ReadinessRecord => ({ url: "u", flipped: false, ready: true, polls: 3, notReadyOutcomes: {}, ...over });

describe("the chaos report table", () => {
  it("formats a row with failures by code, the pause in seconds and the processes that were not ready", () => {
    const row: ScenarioRow = { scenario: "broker-kill", report: report(), notReady: ["message-1"], recoverySeconds: 12.34, drained: true, notes: ["a | b"] };
    expect(formatRow(row)).toBe("| broker-kill | 10 | 10 | 0 | 0 | 2 | ACK_TIMEOUT 3, KAFKA_UNAVAILABLE 1 | 4.3 | message-1 | 12.3 | a \\| b |");
    expect(rowFailed(row)).toBe(false);
  });

  it("fails a row that lost or showed twice a message, or could not run", () => {
    expect(rowFailed({ scenario: "x", report: report({ lost: 1 }), notReady: [], drained: false, notes: [] })).toBe(true);
    expect(rowFailed({ scenario: "x", report: report({ duplicatesShown: 1 }), notReady: [], drained: true, notes: [] })).toBe(true);
    const broken: ScenarioRow = { scenario: "x", notReady: [], drained: false, notes: [], error: "boom" };
    expect(rowFailed(broken)).toBe(true);
    expect(formatRow(broken)).toContain("ERROR: boom");
  });

  it("measures recovery until the last process is ready again and deliveries are on time", () => {
    const inject = 10_000;
    const flips = { a: ready({ flipped: true, lastRecoveredAt: 18_000 }), b: ready(), c: ready({ flipped: true, lastRecoveredAt: 5000 }) };
    expect(recoverySeconds(inject, flips, undefined)).toBe(8);
    expect(recoverySeconds(inject, flips, 21_500)).toBe(11.5);
    expect(recoverySeconds(inject, { b: ready() }, undefined)).toBe(0);
    expect(recoverySeconds(inject, { a: ready({ flipped: true, ready: false }) }, undefined)).toBeUndefined();
  });
});
