import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { MongoClient, type Db } from "mongodb";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { registerUser, type TestUser } from "../../../test/helpers/api.ts";
import { entries, startCluster, type TestCluster } from "../../../test/helpers/cluster.ts";
import { history } from "../../../test/helpers/conversations.ts";
import { connectClient, type ChatClient } from "../../../test/helpers/sockets.ts";
import type { ServiceProcess } from "../../../test/helpers/processes.ts";
import { stackEnv, waitFor } from "../../../shared/src/testing/index.ts";

interface AutoDoc {
  _id: string;
  senderId: string;
  recipientId: string;
  isQueued: boolean;
  isSent: boolean;
  messageId: string | null;
  conversationId: string | null;
  attempts: number;
  deadLetteredAt: Date | null;
}

async function admin<T = Record<string, unknown>>(scheduler: ServiceProcess, cluster: TestCluster, method: string, path: string, body?: unknown) {
  const res = await fetch(`${scheduler.url}/admin/automessages/${path}`, {
    method,
    headers: { authorization: `Bearer ${cluster.env.ADMIN_API_TOKEN}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as T };
}

describe("AutoMessages", () => {
  let mongo: MongoClient;
  const clusters: TestCluster[] = [];
  const clients: ChatClient[] = [];
  const dbOf = (cluster: TestCluster): Db => mongo.db(cluster.env.MONGO_DB!);
  const cluster = async (env: Record<string, string> = {}) => {
    const c = await startCluster({ gateways: 1, env: { SCHEDULER_CRON_ENABLED: "false", ...env } });
    clusters.push(c);
    return c;
  };

  beforeAll(async () => {
    mongo = await new MongoClient(stackEnv.mongoUrl).connect();
  });
  afterEach(() => {
    for (const c of clients.splice(0)) c.close();
  });
  afterAll(async () => {
    await Promise.all(clusters.map((c) => c.stop()));
    await mongo?.close();
  });

  it("runs each job once per tick with two scheduler replicas, and plans a night once", async () => {
    const c = await cluster();
    const gw = c.gateways[0]!.url;
    await Promise.all(Array.from({ length: 7 }, () => registerUser(gw)));
    const env = { SCHEDULER_CRON_ENABLED: "true", PLANNER_CRON: "*/2 * * * * *", QUEUE_CRON: "* * * * * *" };
    const [s1, s2] = await Promise.all([
      c.spawn("scheduler-1", entries.scheduler, { ...env, SCHEDULER_REPLICA_ID: "replica-1" }),
      c.spawn("scheduler-2", entries.scheduler, { ...env, SCHEDULER_REPLICA_ID: "replica-2" }),
    ]);
    await new Promise((r) => setTimeout(r, 4500));
    // The replica that has been winning the ticks crashes; the other one carries on alone.
    const runsSoFar = await dbOf(c).collection<{ replicaId: string }>("job_runs").find({}).toArray();
    const counts = new Map<string, number>();
    for (const r of runsSoFar) counts.set(r.replicaId, (counts.get(r.replicaId) ?? 0) + 1);
    const leader = [...counts].sort((a, b) => b[1] - a[1])[0]![0];
    const [crashed, survivor] = leader === "replica-1" ? [s1, s2] : [s2, s1];
    crashed.child.kill("SIGKILL");
    const crashedAt = Date.now();
    await new Promise((r) => setTimeout(r, 4000));
    survivor.child.kill("SIGTERM");
    expect(await survivor.exited).toBe(0);

    const runs = await dbOf(c)
      .collection<{ job: string; tick: number; replicaId: string; startedAt: Date; result: { inserted?: number } }>("job_runs")
      .find({})
      .toArray();
    const perTick = new Map<string, number>();
    for (const r of runs) perTick.set(`${r.job}@${r.tick}`, (perTick.get(`${r.job}@${r.tick}`) ?? 0) + 1);
    expect([...perTick.values()].every((n) => n === 1)).toBe(true);
    const planner = runs.filter((r) => r.job === "automessage-planner");
    const queue = runs.filter((r) => r.job === "automessage-queue");
    expect(planner.length).toBeGreaterThanOrEqual(3);
    expect(queue.length).toBeGreaterThanOrEqual(6);
    const survivorId = survivor === s1 ? "replica-1" : "replica-2";
    expect(runs.filter((r) => r.startedAt.getTime() > crashedAt + 1500).every((r) => r.replicaId === survivorId)).toBe(true);
    expect(queue.filter((r) => r.startedAt.getTime() > crashedAt + 1500).length).toBeGreaterThanOrEqual(2);
    // The night was planned once: 7 users -> 4 messages; every later run added nothing.
    expect(planner.map((r) => r.result.inserted).filter((n) => n !== 0)).toEqual([4]);
    const docs = await dbOf(c).collection<AutoDoc>("automessages").find({}).toArray();
    expect(docs).toHaveLength(4);
    for (const d of docs) expect(d.senderId).not.toBe(d.recipientId);
  });

  it("delivers end to end, and exactly once when the worker is SIGKILLed after Kafka but before its ack", async () => {
    const c = await cluster();
    const gw = c.gateways[0]!.url;
    const [alice, bob] = await Promise.all([registerUser(gw, "alice"), registerUser(gw, "bob")]);
    const scheduler = await c.spawn("scheduler", entries.scheduler);
    const worker = await c.spawn("worker", entries.worker);
    const sockets = new Map<string, ChatClient>();
    for (const u of [alice, bob]) {
      const s = await connectClient(gw, u.accessToken);
      clients.push(s);
      sockets.set(u.id, s);
    }
    const byId = new Map<string, TestUser>([alice, bob].map((u) => [u.id, u]));

    const planned = await admin<{ result: { inserted: number } }>(scheduler, c, "POST", "plan", { sendWithin: "1s", planId: "e2e-1" });
    expect(planned.status).toBe(200);
    expect(planned.body.result.inserted).toBe(1);
    const [doc] = await dbOf(c).collection<AutoDoc>("automessages").find({}).toArray();
    await new Promise((r) => setTimeout(r, 1100));
    const queued = await admin<{ result: { queued: number } }>(scheduler, c, "POST", "queue");
    expect(queued.body.result.queued).toBe(1);

    const recipient = sockets.get(doc!.recipientId)!;
    const [got] = await recipient.waitForMessages(1);
    expect(got).toMatchObject({ senderId: doc!.senderId, kind: "auto", seq: 1 });
    await waitFor(async () => (await dbOf(c).collection<AutoDoc>("automessages").findOne({ _id: doc!._id }))?.isSent === true, { what: "isSent" });
    const after = await dbOf(c).collection<AutoDoc>("automessages").findOne({ _id: doc!._id });
    expect(after).toMatchObject({ isQueued: true, isSent: true, messageId: got!.messageId, conversationId: got!.conversationId });
    const stats = await admin<{ sent: number; planned: number }>(scheduler, c, "GET", "stats");
    expect(stats.body).toMatchObject({ planned: 1, sent: 1 });

    // Now a worker that dies right after Kafka has the message, before it acks RabbitMQ.
    worker.child.kill("SIGTERM");
    expect(await worker.exited).toBe(0);
    const doomed = await c.spawn("worker-doomed", entries.worker, { FAILPOINTS: "automessage.after-send" });
    expect((await admin<{ result: { inserted: number } }>(scheduler, c, "POST", "plan", { sendWithin: "1s", planId: "e2e-2" })).body.result.inserted).toBe(1);
    const second = await dbOf(c).collection<AutoDoc>("automessages").findOne({ _id: { $ne: doc!._id } });
    await new Promise((r) => setTimeout(r, 1100));
    await admin(scheduler, c, "POST", "queue");
    expect(await doomed.exited).toBe("SIGKILL");
    expect((await dbOf(c).collection<AutoDoc>("automessages").findOne({ _id: second!._id }))?.isSent).toBe(false);

    await c.spawn("worker-again", entries.worker);
    await waitFor(async () => (await dbOf(c).collection<AutoDoc>("automessages").findOne({ _id: second!._id }))?.isSent === true, {
      timeoutMs: 20_000,
      what: "redelivered AutoMessage marked sent",
    });
    const receiver = byId.get(second!.recipientId)!;
    const stored = await history(gw, receiver, (await dbOf(c).collection<AutoDoc>("automessages").findOne({ _id: second!._id }))!.conversationId!);
    const autos = stored.messages.filter((m) => m.clientMsgId === `auto-${second!._id}`);
    expect(autos).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 500));
    expect(sockets.get(second!.recipientId)!.messages.filter((m) => m.clientMsgId === `auto-${second!._id}`)).toHaveLength(1);
  });

  describe("failures", () => {
    let proxy: Server;
    afterAll(() => proxy?.close());

    it("retries a transient failure with backoff until it succeeds, and dead-letters a permanent one after N attempts", async () => {
      const c = await cluster({ AUTOMESSAGE_MAX_ATTEMPTS: "3", AUTOMESSAGE_RETRY_BASE: "300ms" });
      const gw = c.gateways[0]!.url;
      await Promise.all(Array.from({ length: 4 }, () => registerUser(gw)));
      const scheduler = await c.spawn("scheduler", entries.scheduler);
      expect((await admin<{ result: { inserted: number } }>(scheduler, c, "POST", "plan", { sendWithin: "1s", planId: "fail-1" })).body.result.inserted).toBe(2);
      const [flaky, broken] = await dbOf(c).collection<AutoDoc>("automessages").find({}).toArray();

      // Between the worker and the message service: answers the flaky pair with a passing
      // failure twice, the broken pair always; the other pairs of a batch go through.
      const seen = new Map<string, number>();
      const upstream = new URL(c.env.MESSAGE_URL!.split(",")[0]!);
      const injected = { error: { code: "DEPENDENCY_UNAVAILABLE", message: "injected", retriable: true } };
      proxy = createServer((req, res) => {
        let body = "";
        req.on("data", (d: Buffer) => (body += d.toString()));
        req.on("end", async () => {
          const pairs = (JSON.parse(body || "{}") as { pairs?: Array<[string, string]> }).pairs ?? [];
          const answers: unknown[] = pairs.map(([sender]) => {
            const key = sender === broken!.senderId ? "broken" : sender === flaky!.senderId ? "flaky" : "other";
            seen.set(key, (seen.get(key) ?? 0) + 1);
            return key === "broken" || (key === "flaky" && seen.get(key)! <= 2) ? injected : undefined;
          });
          const passing = pairs.filter((_, i) => answers[i] === undefined);
          if (passing.length > 0) {
            const headers = { "content-type": "application/json", "x-internal-token": String(req.headers["x-internal-token"]) };
            const out = await fetch(new URL(req.url!, upstream), { method: "POST", headers, body: JSON.stringify({ pairs: passing }) });
            const { results } = (await out.json()) as { results: unknown[] };
            for (let i = 0; i < answers.length; i++) if (answers[i] === undefined) answers[i] = results.shift();
          }
          res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ results: answers }));
        });
      });
      await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", () => r()));
      await c.spawn("worker", entries.worker, { MESSAGE_URL: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}` });

      await new Promise((r) => setTimeout(r, 1100));
      await admin(scheduler, c, "POST", "queue");
      const coll = dbOf(c).collection<AutoDoc>("automessages");
      await waitFor(async () => (await coll.findOne({ _id: flaky!._id }))?.isSent === true, { timeoutMs: 20_000, what: "flaky one sent" });
      await waitFor(async () => (await coll.findOne({ _id: broken!._id }))?.deadLetteredAt != null, { timeoutMs: 20_000, what: "broken one dead-lettered" });
      expect(seen.get("flaky")).toBe(3);
      expect(seen.get("broken")).toBe(3);
      expect((await coll.findOne({ _id: flaky!._id }))!.attempts).toBe(3);
      expect((await coll.findOne({ _id: broken!._id }))).toMatchObject({ isSent: false, attempts: 3 });

      const stats = await admin<{ planned: number; sent: number; deadLettered: number; queues: Record<string, number> }>(scheduler, c, "GET", "stats");
      expect(stats.body).toMatchObject({ planned: 2, sent: 1, deadLettered: 1 });
      expect(stats.body.queues[`${c.env.AMQP_QUEUE_PREFIX}message_sending_queue.dlq`]).toBe(1);
      expect((await admin(scheduler, c, "GET", "stats")).status).toBe(200);
      const unauth = await fetch(`${scheduler.url}/admin/automessages/stats`);
      expect(unauth.status).toBe(401);
    });
  });
});
