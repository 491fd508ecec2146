import cron, { type ScheduledTask } from "node-cron";
import Redlock from "redlock";
import type { Redis } from "ioredis";
import type { Collection, Db } from "mongodb";
import { ConflictError, type Logger } from "@chat/shared";
import type { Job } from "./job.ts";

/**
 * Redlock's "someone else holds it" errors. Matched by name: under some loaders the
 * package's ESM named exports are not visible, and its classes are not otherwise reachable.
 */
function isLockBusy(err: unknown): boolean {
  const name = (err as Error | undefined)?.name;
  return name === "ResourceLockedError" || name === "ExecutionError";
}

export interface JobRunRecord {
  job: string;
  /** The cron tick (ms since epoch, whole seconds), or null for an on-demand run. */
  tick: number | null;
  replicaId: string;
  startedAt: Date;
  finishedAt: Date;
  result: unknown;
  error: string | null;
}

export interface JobRunnerOptions<Deps> {
  jobs: Array<Job<Deps>>;
  deps: Deps;
  redis: Redis;
  db: Db;
  /** Key prefix (the cluster's Redis prefix). */
  prefix: string;
  timezone: string;
  replicaId: string;
  logger: Logger;
}

/**
 * Owns node-cron and redlock. On each tick every replica tries to claim the tick (SET NX on
 * job+tick), so a job runs once per tick however many replicas there are; the run itself
 * holds a redlock on the job, extended while it runs, so a long run never overlaps the
 * next and a crashed holder's lock simply expires. Every run is recorded in `job_runs`.
 */
export function createJobRunner<Deps>({ jobs, deps, redis, db, prefix, timezone, replicaId, logger }: JobRunnerOptions<Deps>) {
  const log = logger.child({ component: "job-runner", replicaId });
  const redlock = new Redlock([redis], { retryCount: 0, automaticExtensionThreshold: 2000 });
  redlock.on("error", (err: unknown) => {
    if (!isLockBusy(err)) log.warn({ err }, "redlock error");
  });
  const runs: Collection<JobRunRecord> = db.collection<JobRunRecord>("job_runs");
  const tasks: ScheduledTask[] = [];
  const running = new Set<Promise<unknown>>();

  async function execute(job: Job<Deps>, tick: number | null): Promise<unknown> {
    const startedAt = new Date();
    let result: unknown = null;
    let error: string | null = null;
    try {
      result = await redlock.using([`${prefix}lock:job:${job.name}`], job.lockTtlMs, () => job.run(deps));
      return result;
    } catch (err) {
      if (isLockBusy(err)) {
        throw new ConflictError(`Job ${job.name} is already running`, undefined, "JOB_RUNNING");
      }
      error = (err as Error).message ?? String(err);
      throw err;
    } finally {
      const finishedAt = new Date();
      if (!(error === null && result === null)) {
        await runs.insertOne({ job: job.name, tick, replicaId, startedAt, finishedAt, result, error }).catch(() => undefined);
      }
      log.info({ job: job.name, tick, ms: finishedAt.getTime() - startedAt.getTime(), error }, "job run");
    }
  }

  async function onTick(job: Job<Deps>, now: Date | "manual" | "init"): Promise<void> {
    const tick = Math.floor((now instanceof Date ? now.getTime() : Date.now()) / 1000) * 1000;
    const claimed = await redis.set(`${prefix}job-tick:${job.name}:${tick}`, replicaId, "PX", Math.max(job.lockTtlMs, 120_000), "NX");
    if (claimed === null) return;
    try {
      await execute(job, tick);
    } catch (err) {
      if (err instanceof ConflictError) log.info({ job: job.name, tick }, "previous run still going, tick skipped");
      else log.error({ err, job: job.name }, "job failed");
    }
  }

  function track<T>(p: Promise<T>): Promise<T> {
    running.add(p);
    void p.finally(() => running.delete(p)).catch(() => undefined);
    return p;
  }

  return {
    start(): void {
      for (const job of jobs) {
        if (!cron.validate(job.cron)) throw new Error(`Invalid cron for ${job.name}: ${job.cron}`);
        tasks.push(cron.schedule(job.cron, (now) => void track(onTick(job, now)), { timezone }));
      }
    },

    /** Runs a job now (CLI, admin endpoint), still under its lock. */
    runNow(name: string): Promise<unknown> {
      const job = jobs.find((j) => j.name === name);
      if (!job) throw new Error(`Unknown job ${name}`);
      return track(execute(job, null));
    },

    async stop(): Promise<void> {
      for (const t of tasks) t.stop();
      await Promise.allSettled([...running]);
    },
  };
}

export type JobRunner = ReturnType<typeof createJobRunner>;
