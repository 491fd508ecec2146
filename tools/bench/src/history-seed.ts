// A chat with history, seeded in bulk for benchmarks: users through the auth service's seed
// route (so they are real accounts in its directory), direct conversations between them and
// their messages written straight into the message service's collections, in the very shapes
// its stores write (ids, slots, inboxes, read state), so every read the cluster makes finds them
// as if they had come through Kafka. Idempotent: ids are derived, so a re-run after a crash adds
// only what is missing, and a finished seed is recorded and skipped.
import { messageIdFor } from "@chat/shared";
import { MongoBulkWriteError, MongoClient, type Db } from "mongodb";
import { seedUserIds, seedUsers } from "@chat/loadtest/src/seed-users.ts";
import { directConversationId, type ConversationDoc, type InboxDoc, type MemberDoc } from "../../../services/message/src/store/conversation-store.ts";
import { createMessageStore, messageDocOf, type MessageDoc } from "../../../services/message/src/store/message-store.ts";
import { createConversationStore } from "../../../services/message/src/store/conversation-store.ts";

export interface HistoryShape {
  /** Users created (`<prefix><n>`); the first `2 * conversations` of them are paired. */
  users: number;
  conversations: number;
  messagesPerConversation: number;
  prefix: string;
}

export interface SeededHistory extends HistoryShape {
  messages: number;
  /** Seconds spent seeding in this run (0 when an earlier run had finished it). */
  seconds: number;
}

const MESSAGE_BATCH = 2000;
const password = "benchmark password";

async function ignoreDuplicates(write: Promise<unknown>): Promise<void> {
  try {
    await write;
  } catch (err) {
    if (!(err instanceof MongoBulkWriteError) || !err.writeErrors || ![err.writeErrors].flat().every((e) => e.code === 11000)) throw err;
  }
}

/** Seeds `shape` into database `dbName` (users through `authUrl`, which must use that database). */
export async function seedHistory(mongoUrl: string, dbName: string, authUrl: string, internalToken: string, shape: HistoryShape, log: (line: string) => void): Promise<SeededHistory> {
  const mongo = await new MongoClient(mongoUrl).connect();
  try {
    const db = mongo.db(dbName);
    const marker = db.collection<{ _id: string; shape: HistoryShape }>("bench_seed");
    const key = JSON.stringify(shape);
    const total = shape.conversations * shape.messagesPerConversation;
    if (await marker.findOne({ _id: key })) return { ...shape, messages: total, seconds: 0 };
    const started = performance.now();

    const ids = (await seedUserIds(authUrl, internalToken, { prefix: shape.prefix, count: shape.users, password })).map((u) => u.id);
    log(`  ${ids.length} users in ${((performance.now() - started) / 1000).toFixed(0)} s`);

    await createMessageStore(db).ensureIndexes();
    await createConversationStore(db).ensureIndexes();
    let written = 0;
    for (let c0 = 0; c0 < shape.conversations; c0 += MESSAGE_BATCH / shape.messagesPerConversation) {
      const batch = Array.from({ length: Math.min(MESSAGE_BATCH / shape.messagesPerConversation, shape.conversations - c0) }, (_, i) => c0 + i);
      await writeConversations(db, batch.map((c) => [ids[2 * c]!, ids[2 * c + 1]!] as const), shape.messagesPerConversation);
      written += batch.length * shape.messagesPerConversation;
      if (written % 100_000 < MESSAGE_BATCH) log(`  ${written} messages in ${((performance.now() - started) / 1000).toFixed(0)} s`);
    }
    await marker.updateOne({ _id: key }, { $set: { shape } }, { upsert: true });
    return { ...shape, messages: total, seconds: (performance.now() - started) / 1000 };
  } finally {
    await mongo.close();
  }
}

/** One direct conversation per pair with `perConversation` messages, alternating senders. */
async function writeConversations(db: Db, pairs: ReadonlyArray<readonly [string, string]>, perConversation: number): Promise<void> {
  const messages: MessageDoc[] = [];
  const conversations: ConversationDoc[] = [];
  const members: MemberDoc[] = [];
  const inboxes: InboxDoc[] = [];
  const base = Date.now() - 30 * 86_400_000;
  for (const [a, b] of pairs) {
    const conversationId = directConversationId(a, b);
    let last: MessageDoc | undefined;
    for (let seq = 1; seq <= perConversation; seq++) {
      const senderId = seq % 2 ? a : b;
      const clientMsgId = `seed-${conversationId}-${seq}`;
      const at = new Date(base + seq * 60_000);
      const content = `history message ${seq}: the quick brown fox jumps over the lazy dog`;
      last = messageDocOf({ messageId: messageIdFor(senderId, clientMsgId), conversationId, senderId, clientMsgId, content, kind: "user", sentAt: at.toISOString() }, seq, "bench-seed", at);
      messages.push(last);
    }
    const at = new Date(base + perConversation * 60_000);
    conversations.push({
      _id: conversationId,
      type: "direct",
      title: null,
      participantIds: [a, b].sort(),
      lastSeq: perConversation,
      lastMessage: last ? { messageId: last._id, senderId: last.senderId, content: last.content, seq: last.seq, sentAt: last.sentAt } : null,
      createdBy: a,
      createdAt: new Date(base),
      lastActivityAt: at,
    });
    for (const userId of [a, b]) {
      members.push({ _id: `${conversationId}:${userId}`, conversationId, userId, lastReadSeq: perConversation - 2 });
      inboxes.push({ _id: userId, conversationIds: [conversationId] });
    }
  }
  await Promise.all([
    ignoreDuplicates(db.collection<MessageDoc>("messages").insertMany(messages, { ordered: false })),
    ignoreDuplicates(db.collection<ConversationDoc>("conversations").insertMany(conversations, { ordered: false })),
    ignoreDuplicates(db.collection<MemberDoc>("conversation_members").insertMany(members, { ordered: false })),
    ignoreDuplicates(db.collection<InboxDoc>("user_conversations").insertMany(inboxes, { ordered: false })),
  ]);
}

/** Sessions for the first `count` paired users and their conversation ids: the page-latency sample. */
export async function historySample(authUrl: string, internalToken: string, shape: HistoryShape, count: number): Promise<Array<{ token: string; conversationId: string }>> {
  const users = await seedUsers(authUrl, internalToken, { prefix: shape.prefix, count: Math.min(count, 2 * shape.conversations), password });
  return users.map((u, i) => ({ token: u.accessToken, conversationId: directConversationId(u.id, users[i ^ 1]!.id) }));
}
