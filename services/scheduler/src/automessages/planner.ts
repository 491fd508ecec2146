import { randomInt } from "node:crypto";
import type { Db } from "mongodb";
import type { AutoMessageStore } from "./automessage-store.ts";
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
}

/**
 * Loads active users (ids only), shuffles and pairs them, gives each pair random content
 * and a random send time within the window, and saves the lot in bulk.
 *
 * Once per plan id: the first run claims the plan with an upsert on `plans` (a unique
 * key, not a check-then-insert); a later run finds it done and adds nothing. A run that
 * crashed half-way left the plan "planning": the next run completes it by pairing only
 * the users the plan does not involve yet. The users collection belongs to the auth
 * service; the planner only reads ids from it.
 */
export async function planAutoMessages(db: Db, store: AutoMessageStore, options: PlanOptions): Promise<PlanResult> {
  const started = Date.now();
  const now = options.now ?? new Date();
  const plans = db.collection<PlanDoc>("automessage_plans");
  const claim = await plans.updateOne(
    { _id: options.planId },
    { $setOnInsert: { status: "planning", startedAt: now, finishedAt: null, messages: 0 } },
    { upsert: true },
  );
  if (claim.upsertedCount === 0) {
    const existing = await plans.findOne({ _id: options.planId });
    if (existing?.status === "done") {
      return { planId: options.planId, alreadyPlanned: true, activeUsers: 0, pairs: 0, inserted: 0, ms: Date.now() - started };
    }
  }

  const involved = await store.usersInPlan(options.planId);
  const users = await db
    .collection<{ _id: string; active: boolean }>("users")
    .find({ active: true })
    .project<{ _id: string }>({ _id: 1 })
    .toArray();
  const candidates = users.map((u) => u._id).filter((id) => !involved.has(id));
  const pairs = pairUp(shuffleInPlace(candidates));
  const docs = pairs.map((p) => ({
    planId: options.planId,
    senderId: p.senderId,
    recipientId: p.recipientId,
    content: options.contents[randomInt(options.contents.length)]!,
    sendDate: new Date(now.getTime() + randomInt(Math.max(1, options.sendWithinMs))),
  }));
  const inserted = await store.insertPlan(docs);
  await plans.updateOne({ _id: options.planId }, { $set: { status: "done", finishedAt: new Date() }, $inc: { messages: inserted } });
  return { planId: options.planId, alreadyPlanned: false, activeUsers: users.length, pairs: pairs.length, inserted, ms: Date.now() - started };
}
