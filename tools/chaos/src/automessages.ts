/** The scheduler's admin API (`/admin/automessages/*`), as much of it as a fault test needs. */

import type { AutoMessageStats } from "@chat/scheduler/src/automessages/automessage-store.ts";

export type { AutoMessageStats };

async function admin<T>(schedulerUrl: string, token: string, method: "GET" | "POST", path: string, body?: unknown): Promise<T> {
  const res = await fetch(new URL(`/admin/automessages/${path}`, schedulerUrl), {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} /admin/automessages/${path}: ${res.status} ${text.slice(0, 200)}`);
  return JSON.parse(text) as T;
}

export const autoMessageStats = (schedulerUrl: string, token: string) => admin<AutoMessageStats>(schedulerUrl, token, "GET", "stats");

/** Plans one AutoMessage per pair of active users, due within `sendWithin` (e.g. "30s"). @returns how many */
export async function planAutoMessages(schedulerUrl: string, token: string, sendWithin: string, planId: string): Promise<number> {
  const { result } = await admin<{ result: { inserted?: number } }>(schedulerUrl, token, "POST", "plan", { sendWithin, planId });
  return result.inserted ?? 0;
}

/** Publishes the due AutoMessages now instead of at the next minute's job. */
export async function queueDueAutoMessages(schedulerUrl: string, token: string): Promise<void> {
  await admin(schedulerUrl, token, "POST", "queue");
}
