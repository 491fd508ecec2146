// Does one collection's slow command hold up another's key lookups on the Mongo-wire server?
// Two loops side by side: a scan of a 50,000-document collection (what an unindexed count or
// a stats query costs on the stand-in) and history-page lookups (`slot $in` of 50) on another
// collection. Prints the lookups' p50/p99 alone and beside the scans.
//
//   npm run bench:store-lock [-- --url mongodb://127.0.0.1:27017 --seconds 10]
import { parseArgs } from "node:util";
import { MongoClient } from "mongodb";
import { assertLoopback } from "@chat/loadtest/src/loopback.ts";

const { values } = parseArgs({
  options: {
    url: { type: "string", default: process.env.MONGO_URL ?? "mongodb://127.0.0.1:27017" },
    seconds: { type: "string", default: "10" },
    docs: { type: "string", default: "50000" },
  },
});
const url = new URL(values.url);
assertLoopback(`http://${url.host}`);
const seconds = Math.min(Number(values.seconds), 120);
const docs = Math.min(Number(values.docs), 1_000_000);

const client = await MongoClient.connect(values.url, { maxPoolSize: 20 });
const db = client.db(`bench_store_lock_${Date.now().toString(36)}`);
const big = db.collection<{ _id: number; x: number; pad: string }>("big");
const pages = db.collection<{ _id: string; slot: string; content: string }>("pages");
try {
  for (let i = 0; i < docs; i += 1000) {
    await big.insertMany(Array.from({ length: Math.min(1000, docs - i) }, (_, k) => ({ _id: i + k, x: (i + k) % 97, pad: "x".repeat(64) })));
  }
  await pages.createIndex({ slot: 1 }, { unique: true });
  await pages.insertMany(Array.from({ length: 200 }, (_, s) => ({ _id: `m${s}`, slot: `c#${s + 1}`, content: `message ${s + 1}` })));
  const slots = Array.from({ length: 50 }, (_, s) => `c#${s + 101}`);

  async function lookups(ms: number): Promise<number[]> {
    const times: number[] = [];
    const end = Date.now() + ms;
    while (Date.now() < end) {
      const started = performance.now();
      await pages.find({ slot: { $in: slots } }).toArray();
      times.push(performance.now() - started);
    }
    return times.sort((a, b) => a - b);
  }
  const pct = (t: number[], p: number) => t[Math.min(t.length - 1, Math.floor(t.length * p))]!.toFixed(1);

  const alone = await lookups(seconds * 500);
  let scans = 0;
  let scanMs = 0;
  let stop = false;
  const scanner = async () => {
    while (!stop) {
      const started = performance.now();
      await big.countDocuments({ x: { $gt: 50 } });
      scanMs += performance.now() - started;
      scans++;
    }
  };
  const scanners = [scanner(), scanner()];
  const beside = await lookups(seconds * 1000);
  stop = true;
  await Promise.all(scanners);
  console.log(`store ${values.url}, ${docs} documents scanned by 2 loops, history-page lookups on another collection:`);
  console.log(`  lookups alone:       ${alone.length} in ${seconds / 2} s, p50 ${pct(alone, 0.5)} ms, p99 ${pct(alone, 0.99)} ms`);
  console.log(`  lookups beside scans: ${beside.length} in ${seconds} s, p50 ${pct(beside, 0.5)} ms, p99 ${pct(beside, 0.99)} ms (scans: ${scans}, mean ${(scanMs / Math.max(1, scans)).toFixed(0)} ms)`);
} finally {
  await db.dropDatabase().catch(() => undefined);
  await client.close();
}
