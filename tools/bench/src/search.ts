// Search with a million indexed messages: how fast the indexer fills Sonic from Kafka, and how
// long a search takes.
//
//   npm run bench:search [-- --messages 1000000 --users 2000 --per-conversation 100 --queries 1000]
//
// Needs the native stack with Sonic (`npm run up`, or `bash infra/native/stack.sh up`). The
// messages (varied text from a fixed vocabulary, so words are common or rare as in real chats)
// are seeded once into their own database and their own `message.stored` topic (a marker
// records it). Every run then empties the Sonic collection and starts a real message-service
// process whose indexer (a new consumer group) indexes the whole topic from the beginning:
// the indexing rate is messages / seconds from its start until its group has committed the
// topic's end. Search latency is measured against that process's `GET /api/search`, by users
// whose buckets hold their share of the million, with one- and two-word queries and with a
// conversation filter.
import { spawn } from "node:child_process";
import { generateKeyPairSync, randomUUID } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import jwt from "jsonwebtoken";
import { Kafka, logLevel, type Admin } from "kafkajs";
import { MongoBulkWriteError, MongoClient } from "mongodb";
import SonicChannel from "sonic-channel";
import { messageIdFor } from "@chat/shared";
import { messageStoredTopic, type StoredEvent } from "@chat/shared/contracts";
import { summarize } from "@chat/loadtest/src/stats.ts";
import { directConversationId, type ConversationDoc, type InboxDoc, type MemberDoc } from "../../../services/message/src/store/conversation-store.ts";
import { messageDocOf, toStoredMessage, type MessageDoc } from "../../../services/message/src/store/message-store.ts";

const { values: args } = parseArgs({
  options: {
    messages: { type: "string", default: "1000000" },
    users: { type: "string", default: "2000" },
    "per-conversation": { type: "string", default: "100" },
    queries: { type: "string", default: "1000" },
  },
});
const MESSAGES = Number(args.messages);
const USERS = Number(args.users);
const PER_CONVERSATION = Number(args["per-conversation"]);
const QUERIES = Number(args.queries);
const CONVERSATIONS = Math.ceil(MESSAGES / PER_CONVERSATION);

const MONGO_URL = process.env.MONGO_URL ?? "mongodb://127.0.0.1:27017";
const KAFKA_BROKERS = (process.env.KAFKA_BROKERS ?? "127.0.0.1:9092").split(",");
const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const SEARCH = { host: process.env.SEARCH_HOST ?? "127.0.0.1", port: Number(process.env.SEARCH_PORT ?? 1491), password: process.env.SEARCH_PASSWORD ?? "chat-dev-search" };
const NAME = `bench_search_${MESSAGES}m_${USERS}u`;
const PREFIX = `${NAME}.`;
const PORT = 4092;

/** A small deterministic PRNG, so a re-run seeds the same text. */
function prng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** 5,000 made-up words; drawn Zipf-like, so a few are in many messages and most are rare. */
const VOCABULARY = (() => {
  const rnd = prng(7);
  const syllables = ["ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "ze", "pa", "qu", "ri", "do", "fe", "gu", "ha", "jo", "be", "co", "wu"];
  const words = new Set<string>();
  while (words.size < 5000) words.add(Array.from({ length: 2 + Math.floor(rnd() * 3) }, () => syllables[Math.floor(rnd() * syllables.length)]).join(""));
  return [...words];
})();
const zipf = (rnd: () => number) => VOCABULARY[Math.min(VOCABULARY.length - 1, Math.floor(Math.pow(VOCABULARY.length, rnd()) - 1))]!;

/** Conversation c pairs user c % USERS with user (c * 7 + 1) % USERS (never itself). */
function pair(c: number): [number, number] {
  const a = c % USERS;
  let b = (Math.floor(c / USERS) * 7 + a + 1) % USERS;
  if (b === a) b = (b + 1) % USERS;
  return [a, b];
}
const userId = (n: number) => `bench-search-user-${n}`;

async function seed(): Promise<void> {
  const mongo = await new MongoClient(MONGO_URL).connect();
  const db = mongo.db(NAME);
  const marker = db.collection<{ _id: string }>("bench_seed");
  if (await marker.findOne({ _id: "search.v1" })) {
    await mongo.close();
    console.log(`seeded earlier: ${MESSAGES} messages in ${NAME}`);
    return;
  }
  const kafka = new Kafka({ clientId: "bench-search", brokers: KAFKA_BROKERS, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const topic = `${PREFIX}${messageStoredTopic.name}`;
  await admin.createTopics({ topics: [{ topic, numPartitions: 12, replicationFactor: 1 }] }).catch(() => undefined);
  await admin.disconnect();
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  await db.collection("messages").createIndex({ slot: 1 }, { unique: true, name: "slot_unique" });
  const started = performance.now();
  const rnd = prng(42);
  const base = Date.now() - 60 * 86_400_000;
  const ignoreDuplicates = async (write: Promise<unknown>) =>
    write.catch((err: unknown) => {
      if (!(err instanceof MongoBulkWriteError)) throw err;
    });
  const BATCH = 2000 / PER_CONVERSATION;
  for (let c0 = 0; c0 < CONVERSATIONS; c0 += BATCH) {
    const docs: MessageDoc[] = [];
    const events: StoredEvent[] = [];
    const conversations: ConversationDoc[] = [];
    const members: MemberDoc[] = [];
    for (let c = c0; c < Math.min(CONVERSATIONS, c0 + BATCH); c++) {
      const [a, b] = pair(c).map(userId) as [string, string];
      const conversationId = directConversationId(a, b);
      const participantIds = [a, b].sort();
      let last: MessageDoc | undefined;
      for (let seq = 1; seq <= PER_CONVERSATION; seq++) {
        const senderId = seq % 2 ? a : b;
        const clientMsgId = `search-${c}-${seq}`;
        const at = new Date(base + (c * PER_CONVERSATION + seq) * 1000);
        const content = Array.from({ length: 4 + Math.floor(rnd() * 12) }, () => zipf(rnd)).join(" ");
        last = messageDocOf({ messageId: messageIdFor(senderId, clientMsgId), conversationId, senderId, clientMsgId, content, kind: "user", sentAt: at.toISOString() }, seq, "bench-seed", at);
        docs.push({ ...last, n: seq });
        events.push({ v: 1, type: "message", participantIds, message: toStoredMessage(last) });
      }
      conversations.push({
        _id: conversationId,
        type: "direct",
        title: null,
        participantIds,
        lastSeq: PER_CONVERSATION,
        messageCount: PER_CONVERSATION,
        lastMessage: { messageId: last!._id, senderId: last!.senderId, content: last!.content, seq: last!.seq, sentAt: last!.sentAt },
        createdBy: a,
        createdAt: new Date(base),
        lastActivityAt: last!.createdAt,
      });
      for (const u of participantIds) members.push({ _id: `${conversationId}:${u}`, conversationId, userId: u, lastReadSeq: 0 });
    }
    await Promise.all([
      ignoreDuplicates(db.collection<MessageDoc>("messages").insertMany(docs, { ordered: false })),
      ignoreDuplicates(db.collection<ConversationDoc>("conversations").insertMany(conversations, { ordered: false })),
      ignoreDuplicates(db.collection<MemberDoc>("conversation_members").insertMany(members, { ordered: false })),
      producer.send({
        topic,
        acks: -1,
        messages: events.map((e) => ({ key: e.type === "message" ? e.message.conversationId : "", value: JSON.stringify(e) })),
      }),
    ]);
    const done = Math.min(CONVERSATIONS, c0 + BATCH) * PER_CONVERSATION;
    if (done % 100_000 < BATCH * PER_CONVERSATION) console.log(`  seeded ${done} messages in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  }
  const inboxes = new Map<string, string[]>();
  for (let c = 0; c < CONVERSATIONS; c++) {
    const [a, b] = pair(c).map(userId) as [string, string];
    for (const u of [a, b]) inboxes.set(u, [...(inboxes.get(u) ?? []), directConversationId(a, b)]);
  }
  await ignoreDuplicates(db.collection<InboxDoc>("user_conversations").insertMany([...inboxes].map(([_id, conversationIds]) => ({ _id, conversationIds })), { ordered: false }));
  await producer.disconnect();
  // Seeded in today's shape: the message service's one-time migrations have nothing to do here.
  const migrations = db.collection<{ _id: string; at: Date }>("migrations");
  for (const _id of ["messages.slot.v1", "user_conversations.v1"]) await migrations.updateOne({ _id }, { $set: { at: new Date() } }, { upsert: true });
  await marker.updateOne({ _id: "search.v1" }, { $set: { at: new Date() } }, { upsert: true });
  await mongo.close();
  console.log(`seeded ${MESSAGES} messages (Mongo-wire + message.stored) in ${((performance.now() - started) / 1000).toFixed(0)} s`);
}

async function committedBehind(admin: Admin, groupId: string): Promise<number> {
  const topic = `${PREFIX}${messageStoredTopic.name}`;
  const [ends, [committed]] = await Promise.all([admin.fetchTopicOffsets(topic), admin.fetchOffsets({ groupId, topics: [topic] })]);
  const at = new Map((committed?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
  return ends.reduce((sum, p) => sum + Number(p.high) - Math.max(0, at.get(p.partition) ?? 0), 0);
}

async function main(): Promise<void> {
  console.log(`search benchmark: ${MESSAGES} messages, ${USERS} users, ${CONVERSATIONS} conversations of ${PER_CONVERSATION}`);
  await seed();

  // Every run indexes from scratch: an empty collection, a new consumer group.
  const collection = `${PREFIX}messages`.replace(/[^A-Za-z0-9_-]/g, "_");
  const control = new SonicChannel.Ingest({ host: SEARCH.host, port: SEARCH.port, auth: SEARCH.password });
  await new Promise<void>((resolve, reject) => control.connect({ connected: () => resolve(), error: reject }));
  await control.flushc(collection);
  await control.close();

  const keys = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const dir = mkdtempSync(join(tmpdir(), "bench-search-"));
  writeFileSync(join(dir, "public.pem"), keys.publicKey.export({ type: "spki", format: "pem" }));
  const group = `search-indexer-${Date.now()}`;
  const admin = new Kafka({ clientId: "bench-search", brokers: KAFKA_BROKERS, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  const service = spawn(process.execPath, ["--import", "tsx", "services/message/src/main.ts"], {
    env: {
      ...process.env,
      PORT: String(PORT),
      LOG_LEVEL: "warn",
      KAFKA_TOPIC_PREFIX: PREFIX,
      MONGO_DB: NAME,
      MONGO_URL,
      REDIS_URL,
      REDIS_PREFIX: `${NAME}:`,
      KAFKA_BROKERS: KAFKA_BROKERS.join(","),
      INTERNAL_API_TOKEN: randomUUID(),
      JWT_PUBLIC_KEY_FILE: join(dir, "public.pem"),
      SEARCH_HOST: SEARCH.host,
      SEARCH_PORT: String(SEARCH.port),
      SEARCH_PASSWORD: SEARCH.password,
      SEARCH_INDEXER_GROUP: group,
    },
    stdio: ["ignore", "inherit", "inherit"],
  });
  let exited = false;
  service.once("exit", (code) => {
    exited = true;
    console.error(`the message service exited (${code})`);
  });
  const alive = () => {
    if (exited) throw new Error("the message service exited: see its output above");
  };
  try {
    for (let ready = false; !ready; ) {
      await new Promise((r) => setTimeout(r, 200));
      alive();
      ready = await fetch(`http://127.0.0.1:${PORT}/readyz`).then((r) => r.ok, () => false);
    }
    const started = performance.now();
    let behind = Infinity;
    let lastLog = 0;
    while (behind > 0) {
      await new Promise((r) => setTimeout(r, 1000));
      alive();
      behind = await committedBehind(admin, `${PREFIX}${group}`).catch(() => Infinity);
      const s = (performance.now() - started) / 1000;
      if (s - lastLog >= 30 && Number.isFinite(behind)) {
        lastLog = s;
        console.log(`  indexed ${MESSAGES - behind} in ${s.toFixed(0)} s`);
      }
    }
    const seconds = (performance.now() - started) / 1000;
    console.log(`indexing: ${MESSAGES} messages in ${seconds.toFixed(1)} s = ${Math.round(MESSAGES / seconds)} messages/s (${Math.round((3 * MESSAGES) / seconds)} pushes/s: 2 participants + 1 conversation bucket each)`);

    const token = (n: number) =>
      jwt.sign({ typ: "access", sub: userId(n), usr: userId(n), sid: randomUUID(), jti: randomUUID() }, keys.privateKey, {
        algorithm: "ES256",
        issuer: "chat-auth",
        expiresIn: 3600,
      });
    const rnd = prng(99);
    const kinds = {
      "one word": (): Record<string, string> => ({ q: zipf(rnd) }),
      "two words": (): Record<string, string> => ({ q: `${zipf(rnd)} ${zipf(rnd)}` }),
      "one word, one conversation": (): Record<string, string> => ({ q: zipf(rnd) }),
    };
    console.log(`search latency (${QUERIES} sequential queries each, GET /api/search of the message service, limit 20):`);
    for (const [kind, query] of Object.entries(kinds)) {
      const times: number[] = [];
      let hits = 0;
      for (let i = 0; i < QUERIES; i++) {
        const u = Math.floor(rnd() * USERS);
        const params = query();
        if (kind.endsWith("conversation")) params.conversationId = directConversationId(...(pair(u).map(userId) as [string, string]));
        const headers = { authorization: `Bearer ${token(u)}` };
        const t0 = performance.now();
        const res = await fetch(`http://127.0.0.1:${PORT}/api/search?${new URLSearchParams(params)}`, { headers });
        const body = (await res.json()) as { results?: unknown[] };
        times.push(performance.now() - t0);
        if (res.status !== 200) throw new Error(`search ${res.status}: ${JSON.stringify(body)}`);
        hits += body.results?.length ?? 0;
      }
      const s = summarize(times);
      console.log(`  ${kind.padEnd(28)} p50 ${s.p50} ms  p95 ${s.p95} ms  p99 ${s.p99} ms  (${(hits / QUERIES).toFixed(1)} hits per page on average)`);
    }
  } finally {
    await admin.disconnect();
    if (!exited) {
      service.kill("SIGTERM");
      await new Promise((r) => service.once("exit", r));
    }
  }
}

await main();
