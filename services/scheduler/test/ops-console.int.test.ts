import { Kafka, logLevel } from "kafkajs";
import { MongoClient, type Db } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { registerUser, type TestUser } from "../../../test/helpers/api.ts";
import { entries, startCluster, type TestCluster } from "../../../test/helpers/cluster.ts";
import { createConversation, history } from "../../../test/helpers/conversations.ts";
import { freePort, type ServiceProcess } from "../../../test/helpers/processes.ts";
import { connectClient, expectOk, type ChatClient } from "../../../test/helpers/sockets.ts";
import { stackEnv, waitFor } from "../../../shared/src/testing/index.ts";
import type {
  AutoMessagesView,
  ClusterView,
  ConsumerGroupView,
  DeadLettersView,
  RatesView,
  RecordsView,
  RetryResult,
  TopicView,
} from "../src/ops/ops-types.ts";

interface AutoDoc {
  _id: string;
  senderId: string;
  recipientId: string;
  isSent: boolean;
  attempts: number;
  conversationId: string | null;
  deadLetteredAt: Date | null;
}

describe("the operator console API", () => {
  let cluster: TestCluster;
  let scheduler: ServiceProcess;
  let mongo: MongoClient;
  const clients: ChatClient[] = [];
  const users: TestUser[] = [];
  let db: Db;

  const ops = async <T>(path: string, init: { method?: string; body?: unknown; token?: string | null } = {}) => {
    const token = init.token === undefined ? cluster.env.ADMIN_API_TOKEN : init.token;
    const res = await fetch(`${scheduler.url}/ops/api/${path}`, {
      method: init.method ?? "GET",
      headers: { ...(token === null ? {} : { authorization: `Bearer ${token}` }), ...(init.body === undefined ? {} : { "content-type": "application/json" }) },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    });
    return { status: res.status, body: (await res.json()) as T };
  };
  const admin = async <T>(path: string, body?: unknown) => {
    const res = await fetch(`${scheduler.url}/admin/automessages/${path}`, {
      method: body === undefined ? "GET" : "POST",
      headers: { authorization: `Bearer ${cluster.env.ADMIN_API_TOKEN}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return (await res.json()) as T;
  };

  beforeAll(async () => {
    cluster = await startCluster({ gateways: 2, automessages: true, env: { SCHEDULER_CRON_ENABLED: "false", LOG_LEVEL: "info" } });
    scheduler = cluster.scheduler!;
    mongo = await new MongoClient(stackEnv.mongoUrl).connect();
    db = mongo.db(cluster.env.MONGO_DB!);
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await cluster?.stop();
    await mongo?.close();
  });

  it("refuses every API route without the admin token or with a wrong one, and serves the page without one", async () => {
    for (const path of ["cluster", "rates", "kafka/brokers", "kafka/topics", "kafka/consumer-groups", "kafka/topics/x/records", "automessages", "automessages/dlq", "nope"]) {
      for (const token of [null, "wrong-token-of-some-length", `${cluster.env.ADMIN_API_TOKEN}x`]) {
        const res = await ops<{ error: { code: string } }>(path, { token });
        expect(res.status, `${path} with ${token}`).toBe(401);
        expect(res.body.error.code).toBe("ADMIN_TOKEN_INVALID");
      }
    }
    expect((await ops("automessages/dlq/retry", { method: "POST", body: { all: true }, token: null })).status).toBe(401);

    const page = await fetch(`${scheduler.url}/ops/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('id="login-form"');
    const bare = await fetch(`${scheduler.url}/ops`, { redirect: "manual" });
    expect(bare.status).toBe(301);
    expect(bare.headers.get("location")).toBe("/ops/");
    const js = await fetch(`${scheduler.url}/ops/app.js`);
    expect(js.status).toBe(200);
    expect(js.headers.get("content-type")).toContain("javascript");
  });

  it("lists every process with its readiness, version and uptime, both gateways with their devices", async () => {
    const alice = await registerUser(cluster.gateways[0]!.url, "alice");
    users.push(alice);
    clients.push(await connectClient(cluster.gateways[0]!.url, alice.accessToken));
    const { status, body } = await ops<ClusterView>("cluster");
    expect(status).toBe(200);
    expect(body.processes.map((p) => p.name).sort()).toEqual(["auth", "gateway-0", "gateway-1", "message-0", "scheduler", "worker"]);
    for (const p of body.processes) {
      expect(p, p.name).toMatchObject({ ready: true, status: 200, version: expect.any(String), node: expect.stringMatching(/^v\d+/) });
      expect(p.uptimeSeconds).toBeGreaterThanOrEqual(0);
    }
    const gateways = body.processes.filter((p) => p.kind === "gateway");
    expect(gateways.map((g) => g.name).sort()).toEqual(["gateway-0", "gateway-1"]);
    expect(gateways.find((g) => g.name === "gateway-0")!.gateway!.devices).toBe(1);
    expect(gateways.find((g) => g.name === "gateway-1")!.gateway!.devices).toBe(0);
    expect(body.processes.find((p) => p.name === "scheduler")!.checks).toMatchObject({ mongo: "ok", rabbitmq: "ok" });
  });

  it("reports a process that does not answer as not ready instead of failing", async () => {
    const port = await freePort();
    const lonely = await cluster.spawn("scheduler-extra", entries.scheduler, { OPS_PROCESSES: `gone=http://127.0.0.1:${port},auth=${cluster.auth.url}` });
    const res = await fetch(`${lonely.url}/ops/api/cluster`, { headers: { authorization: `Bearer ${cluster.env.ADMIN_API_TOKEN}` } });
    expect(res.status).toBe(200);
    const body = (await res.json()) as ClusterView;
    expect(body.processes.find((p) => p.name === "gone")).toMatchObject({ ready: false, status: null, error: expect.any(String) });
    expect(body.processes.find((p) => p.name === "auth")).toMatchObject({ ready: true, kind: "auth" });
    lonely.child.kill("SIGTERM");
    await lonely.exited;
  });

  it("shows brokers, topics, the gateway and message-service groups with lag per partition, and a topic's newest records decoded", async () => {
    const prefix = cluster.env.KAFKA_TOPIC_PREFIX!;
    const [alice, bob] = [users[0]!, await registerUser(cluster.gateways[1]!.url, "bob")];
    users.push(bob);
    clients.push(await connectClient(cluster.gateways[1]!.url, bob.accessToken));
    const conv = await createConversation(cluster.gateways[0]!.url, alice, [bob]);
    const content = `hello from the ops test ${Date.now()}`;
    expectOk(await clients[0]!.request("send_message", { conversationId: conv.id, content, clientMsgId: "ops-1" }));
    await clients[1]!.waitForMessages(1);

    const brokers = await ops<{ brokers: unknown[]; controller: number | null }>("kafka/brokers");
    expect(brokers.status).toBe(200);
    expect(brokers.body.brokers.length).toBeGreaterThanOrEqual(1);
    expect(brokers.body.controller).not.toBeNull();

    const topics = await ops<TopicView[]>("kafka/topics");
    const send = topics.body.find((t) => t.name === `${prefix}message.send`)!;
    expect(send.partitions).toHaveLength(4);
    for (const p of send.partitions) expect(p).toMatchObject({ leader: expect.any(Number), replicas: expect.any(Array), isr: expect.any(Array), underReplicated: false });
    expect(topics.body.every((t) => t.name.startsWith(prefix))).toBe(true);

    // Lag is 0 once the groups have committed what they consumed; every partition is listed.
    const groups = await waitFor(
      async () => {
        const { body } = await ops<ConsumerGroupView[]>("kafka/consumer-groups");
        const gw = body.filter((g) => g.groupId.startsWith(`${prefix}gateway.`));
        const msg = body.find((g) => g.groupId === `${prefix}message-service`);
        return gw.length === 2 && msg && msg.state === "Stable" && msg.lag === 0 && gw.every((g) => g.state === "Stable") ? body : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 500, what: "stable groups without lag" },
    );
    const msg = groups.find((g) => g.groupId === `${prefix}message-service`)!;
    const sendLag = msg.topics.find((t) => t.topic === `${prefix}message.send`)!;
    expect(sendLag.partitions.map((p) => p.partition)).toEqual([0, 1, 2, 3]);
    expect(sendLag.partitions.some((p) => p.committed !== null && Number(p.high) > 0)).toBe(true);
    for (const p of sendLag.partitions) expect(p.lag).toBe(0);
    expect(msg.members[0]!.assignments.some((a) => a.topic === `${prefix}message.send`)).toBe(true);
    expect(groups.some((g) => g.groupId.includes("ops-console-"))).toBe(false);

    const records = await ops<RecordsView>(`kafka/topics/${encodeURIComponent(`${prefix}message.send`)}/records?limit=5`);
    expect(records.status).toBe(200);
    expect(records.body.partial).toBe(false);
    const mine = records.body.records.find((r) => (r.value as { content?: string }).content === content)!;
    expect(mine).toMatchObject({ key: conv.id, value: { content, conversationId: conv.id, senderId: alice.id, clientMsgId: "ops-1" } });
    expect(Date.parse(mine.timestamp)).toBeGreaterThan(Date.now() - 60_000);
    // The reader's throwaway group is gone (it committed nothing), and the listing hides such groups anyway.
    const admin = new Kafka({ brokers: stackEnv.kafkaBrokers, logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      expect((await admin.listGroups()).groups.filter((g) => g.groupId.startsWith(`${prefix}ops-console-`))).toEqual([]);
    } finally {
      await admin.disconnect();
    }

    const tooMany = await ops<{ error: { code: string; details: { fields: Array<{ field: string }> } } }>(`kafka/topics/${prefix}message.send/records?limit=101`);
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.error).toMatchObject({ code: "VALIDATION_FAILED", details: { fields: [{ field: "limit" }] } });
    expect((await ops(`kafka/topics/${prefix}message.send/records?limit=0`)).status).toBe(400);
    expect((await ops(`kafka/topics/${prefix}message.send/records?limit=5&x=1`)).status).toBe(400);
    expect((await ops(`kafka/topics/${encodeURIComponent("bad topic!")}/records`)).status).toBe(400);
    const unknown = await ops<{ error: { code: string } }>(`kafka/topics/${prefix}no.such.topic/records`);
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe("TOPIC_NOT_FOUND");
    // Another cluster's topic is not this console's to read.
    expect((await ops(`kafka/topics/message.send/records`)).status).toBe(404);
  });

  it("charts rates from the processes' counters when no Prometheus is configured", async () => {
    await ops<RatesView>("rates");
    await new Promise((r) => setTimeout(r, 1100));
    expectOk(await clients[0]!.request("send_message", { conversationId: (await createConversation(cluster.gateways[0]!.url, users[0]!, [users[1]!])).id, content: "rate me", clientMsgId: "ops-2" }));
    await clients[1]!.waitForMessages(2);
    const { status, body } = await ops<RatesView>("rates");
    expect(status).toBe(200);
    expect(body.source).toBe("processes");
    expect(body.sent.at(-1)![1]).toBeGreaterThan(0);
    expect(body.persisted.at(-1)![1]).toBeGreaterThan(0);
    expect(body.delivered.at(-1)![1]).toBeGreaterThan(0);
    expect(body.p50.at(-1)![1]).toBeGreaterThan(0);
    expect(body.p99.at(-1)![1]).toBeGreaterThanOrEqual(body.p50.at(-1)![1]!);
  });

  it("lists dead-lettered AutoMessages with their reason, and sends one back exactly once", async () => {
    const coll = db.collection<AutoDoc>("automessages");
    // Four users: two AutoMessages tonight.
    users.push(...(await Promise.all([registerUser(cluster.gateways[0]!.url, "carol"), registerUser(cluster.gateways[1]!.url, "dave")])));
    // A worker that cannot reach the message service dead-letters at its first attempt.
    cluster.worker!.child.kill("SIGTERM");
    await cluster.worker!.exited;
    const broken = await cluster.spawn("worker-broken", entries.worker, { MESSAGE_URL: `http://127.0.0.1:${await freePort()}`, AUTOMESSAGE_MAX_ATTEMPTS: "1" });
    const planned = await admin<{ result: { inserted: number } }>("plan", { sendWithin: "1s", planId: "ops-night" });
    expect(planned.result.inserted).toBe(2);
    await new Promise((r) => setTimeout(r, 1100));
    await admin("queue", {});
    const docs = await waitFor(
      async () => {
        const all = await coll.find({}).toArray();
        return all.length === planned.result.inserted && all.every((d) => d.deadLetteredAt) ? all : undefined;
      },
      { timeoutMs: 20_000, what: "every AutoMessage dead-lettered" },
    );
    broken.child.kill("SIGTERM");
    await broken.exited;

    const listed = await ops<DeadLettersView>("automessages/dlq");
    expect(listed.status).toBe(200);
    expect(listed.body.depth).toBe(docs.length);
    expect(listed.body.records.map((r) => r.automessageId).sort()).toEqual(docs.map((d) => d._id).sort());
    for (const r of listed.body.records) expect(r).toMatchObject({ reason: expect.stringMatching(/^Message service/), attempts: 1, failedAt: expect.any(String), content: expect.any(String) });
    // Browsing took nothing away, and kept the order.
    const again = await ops<DeadLettersView>("automessages/dlq?limit=1000");
    expect(again.body.records.map((r) => r.automessageId)).toEqual(listed.body.records.map((r) => r.automessageId));
    expect((await ops("automessages/dlq?limit=1001")).status).toBe(400);

    const night = (await ops<AutoMessagesView>("automessages")).body;
    expect(night.plans.find((p) => p.planId === "ops-night")).toMatchObject({ planned: docs.length, deadLettered: docs.length, sent: 0 });
    expect(night.queues).toMatchObject({ dlq: docs.length, main: 0 });

    for (const body of [{}, { ids: [] }, { ids: ["x"], all: true }, { all: false }, { ids: "x" }]) {
      expect((await ops("automessages/dlq/retry", { method: "POST", body })).status, JSON.stringify(body)).toBe(400);
    }

    // The cause is lifted; one of them goes back through the main queue.
    await cluster.spawn("worker-again", entries.worker, {}, cluster.worker!.port);
    const target = docs[0]!;
    const retry = await ops<RetryResult>("automessages/dlq/retry", { method: "POST", body: { ids: [target._id, "no-such-automessage"] } });
    expect(retry.status).toBe(200);
    expect(retry.body).toEqual({ retried: [target._id], notFound: ["no-such-automessage"] });
    const sent = await waitFor(async () => {
      const d = await coll.findOne({ _id: target._id });
      return d?.isSent ? d : undefined;
    }, { timeoutMs: 20_000, what: "the retried AutoMessage sent" });
    expect(sent.deadLetteredAt).toBeNull();
    // Sent once: one chat message for it in the conversation.
    const participant = users.find((u) => u.id === target.senderId)!;
    const stored = await history(cluster.gateways[0]!.url, participant, sent.conversationId!);
    expect(stored.messages.filter((m) => m.clientMsgId === `auto-${target._id}`)).toHaveLength(1);
    expect(scheduler.output()).toContain('"audit":"automessage.dlq.retry"');
    expect(scheduler.output()).toContain(target._id);

    // It left the DLQ; asking again finds nothing; the others are still there.
    const rest = await ops<DeadLettersView>("automessages/dlq");
    expect(rest.body.records.map((r) => r.automessageId)).toEqual(listed.body.records.map((r) => r.automessageId).filter((id) => id !== target._id));
    expect((await ops<RetryResult>("automessages/dlq/retry", { method: "POST", body: { ids: [target._id] } })).body).toEqual({ retried: [], notFound: [target._id] });

    // The rest, all at once.
    const all = await ops<RetryResult>("automessages/dlq/retry", { method: "POST", body: { all: true } });
    expect(all.body.retried.sort()).toEqual(docs.slice(1).map((d) => d._id).sort());
    await waitFor(async () => (await coll.countDocuments({ isSent: true })) === docs.length, { timeoutMs: 20_000, what: "every AutoMessage sent" });
    const counts = await waitFor(async () => {
      const v = (await ops<AutoMessagesView>("automessages")).body;
      return v.queues.dlq === 0 && v.queues.main === 0 ? v : undefined;
    }, { what: "queues empty" });
    expect(counts.plans.find((p) => p.planId === "ops-night")).toMatchObject({ planned: docs.length, sent: docs.length, deadLettered: 0, queued: 0 });
    expect(await admin<{ sent: number; deadLettered: number }>("stats")).toMatchObject({ sent: docs.length, deadLettered: 0 });
  });
});
