/** A scheduled task: one file per job, with its cron next to it. */
export interface Job<Deps> {
  name: string;
  /** node-cron expression (seconds field optional). */
  cron: string;
  /** Redlock TTL; extended automatically while `run` is going. */
  lockTtlMs: number;
  run(deps: Deps): Promise<unknown>;
}
