import { randomInt } from "node:crypto";
import type { Db } from "mongodb";
import type { ActiveUserIds } from "./active-users.ts";
import { PLAN_CHUNK, type AutoMessageStore } from "./automessage-store.ts";
import { pairUp, shuffleInPlace } from "./shuffle.ts";

export interface PlanOptions {
  /** Identifies the plan; one plan per id, however often it runs. */
  planId: string;
  contents: string[];
  sendWithinMs: number;
  now?: Date;
}

export interface PlanResult {
  planId: string;
  /** True when this plan had already been made: nothing was added. */
  alreadyPlanned: boolean;
  activeUsers: number;
  pairs: number;
  inserted: number;
  ms: number;
}

/** The plan id of a night: the date in the scheduler's timezone. */
export function planIdFor(date: Date, timeZone: string): string {
  return new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" }).format(date);
}

interface PlanDoc {
  _id: string;
  status: "planning" | "done";
  startedAt: Date;
  finishedAt: Date | null;
  messages: number;
  /** Journal chunks reserved so far: `automessage_plan_chunks` `<planId>#0..chunks-1`. */
  chunks?: number;
}

/**
 * Loads active users (ids only), shuffles and pairs them, gives each pair random content
 * and a random send time within the window, and saves the lot in bulk.
 *
 * Once per plan id: the first run claims the plan with an upsert on `plans` (a unique
 * key, not a check-then-insert); a later run finds it done and adds nothing. The messages
 * are journalled (chunk documents keyed `<planId>#<n>`) before they are stored in
 * `automessages`, and put in their due-minute buckets (see `saveChunks`). A run that crashed half-way left the plan "planning": the
 * next run re-applies its journal (idempotent) and pairs only the users the journal does
 * not involve yet, reading the journal by key. Users belong to the auth service: the planner
 * asks it for the active users' ids (`activeUsers`).
 */
export async function planAutoMessages(db: Db, store: AutoMessageStore, activeUsers: ActiveUserIds, options: PlanOptions): Promise<PlanResult> {
  const started = Date.now();
  const now = options.now ?? new Date();
  const plans = db.collection<PlanDoc>("automessage_plans");
  const claim = await plans.updateOne(
    { _id: options.planId },
    { $setOnInsert: { status: "planning", startedAt: now, finishedAt: null, messages: 0, chunks: 0 } },
    { upsert: true },
  );
  let existing: PlanDoc | null = null;
  if (claim.upsertedCount === 0) {
    existing = await plans.findOne({ _id: options.planId });
    if (existing?.status === "done") {
      return { planId: options.planId, alreadyPlanned: true, activeUsers: 0, pairs: 0, inserted: 0, ms: Date.now() - started };
    }
  }
  await store.registerPlan(options.planId);

  // Finish what a crashed run journalled, and leave its users out of this run's pairs.
  const journalled = await store.planChunks(options.planId, existing?.chunks ?? 0);
  let inserted = await store.saveChunks(journalled, { journalled: true });
  const involved = store.usersInChunks(journalled);

  const users = await activeUsers();
  const candidates = users.filter((id) => !involved.has(id));
  const pairs = pairUp(shuffleInPlace(candidates));
  const messages = store.newMessages(
    options.planId,
    pairs.map((p) => ({
      senderId: p.senderId,
      recipientId: p.recipientId,
      content: options.contents[randomInt(options.contents.length)]!,
      sendDate: new Date(now.getTime() + randomInt(Math.max(1, options.sendWithinMs))),
    })),
  );
  if (messages.length > 0) {
    // Reserve journal chunk numbers by key (a concurrent run gets others), then save.
    const chunkCount = Math.ceil(messages.length / PLAN_CHUNK);
    const before = await plans.findOneAndUpdate({ _id: options.planId }, { $inc: { chunks: chunkCount } }, { returnDocument: "before" });
    inserted += await store.saveChunks(store.chunk(options.planId, before?.chunks ?? 0, messages), { journalled: false });
  }
  const chunksNow = (await plans.findOne({ _id: options.planId }))?.chunks ?? 0;
  const total = await store.setPlanned(options.planId, chunksNow);
  await plans.updateOne({ _id: options.planId }, { $set: { status: "done", finishedAt: new Date(), messages: total } });
  return { planId: options.planId, alreadyPlanned: false, activeUsers: users.length, pairs: pairs.length, inserted, ms: Date.now() - started };
}
