// What the AutoMessage counters say: the store computes them, the operator console's page shows
// them. Types only, so the page (bundled for the browser) can import them.

/** Counts by state, over one plan or all of them. */
export interface AutoMessageStats {
  planned: number;
  waiting: number;
  queued: number;
  sent: number;
  failed: number;
  deadLettered: number;
}

/** One plan's (one night's) counts. */
export interface PlanCounts extends AutoMessageStats {
  planId: string;
}
