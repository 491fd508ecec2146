import type { ChaosReport } from "./ledger.ts";
import type { ReadinessRecord } from "./readiness.ts";

/** One scenario's outcome: a row of the report. */
export interface ScenarioRow {
  scenario: string;
  report?: ChaosReport;
  /** Processes whose /readyz answered something else than 200 (or nothing) during the scenario. */
  notReady: string[];
  /** From fault injection until every /readyz is 200 again and no delivery is late; undefined: not within the run. */
  recoverySeconds?: number;
  /** Every message acknowledged and delivered by the end of the drain. */
  drained: boolean;
  notes: string[];
  /** The scenario could not run (or broke half-way). */
  error?: string;
}

export const TABLE_HEADER = [
  "| scenario | acknowledged | delivered | lost | duplicates shown | raw duplicates | ack failures | longest delivery pause (s) | /readyz not 200 | recovery (s) | notes |",
  "|---|---:|---:|---:|---:|---:|---|---:|---|---:|---|",
];

const cell = (text: string) => text.replace(/\|/g, "\\|").replace(/\n/g, " ");
const seconds = (ms: number) => (ms / 1000).toFixed(1);

/** A row fails the run when a message was lost or shown twice, or the scenario broke. */
export const rowFailed = (row: ScenarioRow): boolean => row.error !== undefined || (row.report?.lost ?? 0) > 0 || (row.report?.duplicatesShown ?? 0) > 0;

export function formatRow(row: ScenarioRow): string {
  const r = row.report;
  const failures = r && Object.keys(r.ackFailures).length > 0 ? Object.entries(r.ackFailures).map(([code, n]) => `${code} ${n}`).join(", ") : "none";
  const notes = [...(row.error ? [`ERROR: ${row.error}`] : []), ...(row.drained || !r ? [] : ["not drained"]), ...row.notes];
  const values = r
    ? [
        row.scenario,
        String(r.acknowledged),
        String(r.delivered),
        String(r.lost),
        String(r.duplicatesShown),
        String(r.rawDuplicates),
        failures,
        seconds(r.longestPauseMs),
        row.notReady.length ? row.notReady.join(", ") : "no",
        row.error ? "-" : row.recoverySeconds === undefined ? "not recovered" : row.recoverySeconds.toFixed(1),
        notes.join("; "),
      ]
    : [row.scenario, "-", "-", "-", "-", "-", "-", "-", row.notReady.join(", ") || "-", "-", notes.join("; ")];
  return `| ${values.map(cell).join(" | ")} |`;
}

/**
 * Seconds from `injectAt` until both: every watched process answered 200 again (the last
 * recovery at or after the injection; never if one is still not ready), and no delivery
 * was late any more (`lastLateDelivery`, at or after the injection).
 */
export function recoverySeconds(injectAt: number, readiness: Record<string, ReadinessRecord>, lastLateDelivery: number | undefined): number | undefined {
  let until = injectAt;
  for (const record of Object.values(readiness)) {
    if (!record.ready) return undefined;
    if (record.lastRecoveredAt !== undefined && record.lastRecoveredAt >= injectAt) until = Math.max(until, record.lastRecoveredAt);
  }
  if (lastLateDelivery !== undefined) until = Math.max(until, lastLateDelivery);
  return (until - injectAt) / 1000;
}
