// Inserts per second into a large messages collection on a Mongo-wire server, the way the
// message service inserts (batches of 50, 10 in flight, hashed ids and slots): seeds N messages
// into a scratch database, then inserts for 15 s. Compare launcher settings (store format, page
// size) by starting a second server on another port and a file of its own, e.g.
//   MONGO_STORE_FORMAT=java-serialized java -cp "$(bash infra/native/stack.sh mongo-classpath)" MongoWireServer 127.0.0.1 27018 /tmp/x.mv.db
//
//   npm run bench:store-inserts [-- --url mongodb://127.0.0.1:27018 --messages 400000]
//
// --rate N inserts N per second instead of flat out, for --seconds (15); --pid P (the server's
// pid) adds the server's CPU time and bytes written to disk per insert during that phase.
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { MongoClient } from "mongodb";

const { values } = parseArgs({
  options: {
    url: { type: "string", default: "mongodb://127.0.0.1:27017" },
    messages: { type: "string", default: "400000" },
    seconds: { type: "string", default: "15" },
    rate: { type: "string" },
    pid: { type: "string" },
  },
});
const N = Number(values.messages);
const seconds = Number(values.seconds);
const rate = values.rate === undefined ? undefined : Number(values.rate);
/** What the server process has written to its disk and its CPU time so far (Linux), when its pid is given. */
const serverTotals = async () => {
  if (values.pid === undefined) return undefined;
  const io = await readFile(`/proc/${values.pid}/io`, "utf8");
  const stat = (await readFile(`/proc/${values.pid}/stat`, "utf8")).split(") ")[1]!.split(" ");
  // utime and stime, fields 14 and 15 of /proc/PID/stat, in clock ticks (100 per second).
  return { written: Number(/^write_bytes: (\d+)$/m.exec(io)?.[1]), cpuMs: (Number(stat[11]) + Number(stat[12])) * 10 };
};
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
  // Let the seeding's last commits and compaction settle before counting what the steady phase writes.
  await new Promise((r) => setTimeout(r, 5000));
  const before = await serverTotals();
  started = performance.now();
  let next = N;
  let inserted = 0;
  const writer = async () => {
    while (performance.now() - started < seconds * 1000) {
      // At a fixed rate, a writer waits for its batch's turn; otherwise it inserts flat out.
      if (rate !== undefined) {
        const due = started + ((inserted + 50) / rate) * 1000;
        if (due > performance.now()) await new Promise((r) => setTimeout(r, due - performance.now()));
      }
      inserted += 50;
      await messages.insertMany(Array.from({ length: 50 }, () => doc(next++)));
    }
  };
  await Promise.all(Array.from({ length: 10 }, writer));
  const elapsed = (performance.now() - started) / 1000;
  await new Promise((r) => setTimeout(r, 3000));
  const after = await serverTotals();
  const server =
    before === undefined || after === undefined
      ? ""
      : `; the server wrote ${((after.written - before.written) / inserted / 1024).toFixed(1)} KiB and used ${((after.cpuMs - before.cpuMs) / inserted).toFixed(3)} ms of CPU per insert`;
  console.log(`steady inserts: ${(inserted / elapsed).toFixed(0)}/s with ${N} stored${server}`);
} finally {
  await db.dropDatabase().catch(() => undefined);
  await client.close();
}
process.exit(0);
