// The AutoMessage pipeline at scale on the running cluster: seeds users in bulk, times the
// planner, then times the queue job and the worker until every planned message is sent.
//
//   npm run bench:automessages [-- --users 100000 --deliver 2000]
//
// --users: active users the planner pairs (seeded as bench_am<n>, reused on later runs);
// --deliver: how many of the planned messages to queue and send (the rest are left for later).
import { parseArgs } from "node:util";
import { MongoClient } from "mongodb";
import { seedUserIds } from "@chat/loadtest/src/seed-users.ts";
import { PLAN_CHUNK, createAutoMessageStore } from "../../../services/scheduler/src/automessages/automessage-store.ts";
import { clusterSecrets } from "./cluster-secrets.ts";

const { values } = parseArgs({ options: { users: { type: "string", default: "100000" }, deliver: { type: "string", default: "2000" } } });
const users = Number(values.users);
const deliver = Number(values.deliver);
const { internalToken, adminToken } = clusterSecrets();
const scheduler = "http://127.0.0.1:4003";

const seedStarted = performance.now();
await seedUserIds("http://127.0.0.1:4001", internalToken, { prefix: "bench_am", count: users, password: "benchmark password" });
console.log(`seeded ${users} users in ${((performance.now() - seedStarted) / 1000).toFixed(1)} s`);

const admin = async (method: string, path: string, body?: unknown) => {
  const res = await fetch(`${scheduler}/admin/automessages/${path}`, {
    method,
    headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as Record<string, unknown>;
};

const planId = `bench-${Date.now()}`;
const plan = (await admin("POST", "plan", { planId, sendWithin: "24h" })) as { result: { activeUsers: number; inserted: number; ms: number } };
console.log(`planner: ${plan.result.activeUsers} active users -> ${plan.result.inserted} AutoMessages in ${plan.result.ms} ms`);

// Make `deliver` of them due now (in the current minute's due bucket), then queue and watch
// the worker. Every read here is by key, as the scheduler's own are.
const mongo = await new MongoClient(process.env.MONGO_URL ?? "mongodb://127.0.0.1:27017").connect();
const db = mongo.db(process.env.MONGO_DB ?? "chat");
const store = createAutoMessageStore(db);
const journal = await store.planChunks(planId, Math.ceil(deliver / PLAN_CHUNK));
journal.sort((a, b) => Number(a._id.split("#").pop()) - Number(b._id.split("#").pop()));
const ids = journal.flatMap((c) => c.messages.map((m) => m._id)).slice(0, deliver);
await store.makeDueNow(ids);
const coll = db.collection<{ _id: string; isSent: boolean }>("automessages");
// Progress from the plan's counter (one small document of another collection), so the watching
// does not compete with the worker for the AutoMessages' own collection.
const counters = db.collection<{ _id: string; sent?: number }>("automessage_counters");
const started = performance.now();
const queued = (await admin("POST", "queue")) as { result: { queued: number; ms: number } };
console.log(`queue job: ${queued.result.queued} published in ${queued.result.ms} ms`);
for (;;) {
  const sent = (await counters.findOne({ _id: planId }))?.sent ?? 0;
  if (sent >= ids.length) break;
  if (performance.now() - started > 600_000) throw new Error(`only ${sent} of ${ids.length} sent after 10 minutes`);
  await new Promise((r) => setTimeout(r, 250));
}
const seconds = (performance.now() - started) / 1000;
// The counter counts each AutoMessage once; the documents themselves must agree.
const marked = (await coll.find({ _id: { $in: ids } }).project<{ isSent: boolean }>({ isSent: 1 }).toArray()).filter((d) => d.isSent).length;
if (marked !== ids.length) throw new Error(`the counter says ${ids.length} sent, the documents ${marked}`);
console.log(`worker: ${ids.length} AutoMessages queued and sent in ${seconds.toFixed(1)} s = ${(ids.length / seconds).toFixed(0)}/s`);
await mongo.close();
