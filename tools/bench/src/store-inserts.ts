// Inserts per second into a large messages collection on a Mongo-wire server, the way the
// message service inserts (batches of 50, 10 in flight, hashed ids and slots): seeds N messages
// into a scratch database, then inserts for 15 s. Compare launcher settings (store format, page
// size) by starting a second server on another port and a file of its own, e.g.
//   MONGO_STORE_FORMAT=java-serialized java -cp "$(bash infra/native/stack.sh mongo-classpath)" MongoWireServer 127.0.0.1 27018 /tmp/x.mv.db
//
//   npm run bench:store-inserts [-- --url mongodb://127.0.0.1:27018 --messages 400000]
import { createHash } from "node:crypto";
import { parseArgs } from "node:util";
import { MongoClient } from "mongodb";

const { values } = parseArgs({ options: { url: { type: "string", default: "mongodb://127.0.0.1:27017" }, messages: { type: "string", default: "400000" } } });
const N = Number(values.messages);
const client = await new MongoClient(values.url).connect();
const db = client.db(`bench_inserts_${Date.now().toString(36)}`);
try {
  const messages = db.collection<{ _id: string }>("messages");
  await messages.createIndex({ slot: 1 }, { unique: true });
  const h = (s: string) => createHash("sha256").update(s).digest("hex").slice(0, 32);
  const doc = (k: number) => {
    const conversationId = h(`c${k % 20000}`);
    const seq = Math.floor(k / 20000) + 1;
    return { _id: h(`m${k}`), conversationId, seq, slot: `${conversationId}#${seq}`, senderId: "u1", clientMsgId: `x${k}`, content: "history message: the quick brown fox jumps over the lazy dog", kind: "user", sentAt: new Date().toISOString(), createdAt: new Date(), origin: "seed" };
  };
  let started = performance.now();
  for (let i = 0; i < N; i += 2000) await messages.insertMany(Array.from({ length: Math.min(2000, N - i) }, (_, j) => doc(i + j)), { ordered: false });
  console.log(`seeded ${N} messages in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  started = performance.now();
  let next = N;
  let inserted = 0;
  const writer = async () => {
    while (performance.now() - started < 15_000) {
      await messages.insertMany(Array.from({ length: 50 }, () => doc(next++)));
      inserted += 50;
    }
  };
  await Promise.all(Array.from({ length: 10 }, writer));
  console.log(`steady inserts: ${(inserted / ((performance.now() - started) / 1000)).toFixed(0)}/s with ${N} stored`);
} finally {
  await db.dropDatabase().catch(() => undefined);
  await client.close();
}
process.exit(0);
