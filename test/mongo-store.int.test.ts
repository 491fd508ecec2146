// The Mongo-wire server's compact store format (infra/native/mongo-wire): a launcher of the
// test's own, on its own port and file, so it can be stopped, restarted and switched between
// formats without touching the stack's server.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Binary, Decimal128, Long, MongoClient, ObjectId, type MongoServerError } from "mongodb";
import { startMongoWire } from "./helpers/mongo-wire.ts";
import { freePort, repoRoot } from "./helpers/processes.ts";

interface Launcher {
  client: MongoClient;
  output: () => string;
  stop: () => Promise<void>;
}

let dir = "";
let file = "";
let port = 0;
const running: Launcher[] = [];

async function launch(format: "compact" | "java-serialized"): Promise<Launcher> {
  const server = await startMongoWire({ port, file, env: { MONGO_STORE_FORMAT: format } });
  const client = await new MongoClient(server.url, { serverSelectionTimeoutMS: 5000 }).connect();
  const launcher: Launcher = {
    client,
    output: server.output,
    stop: async () => {
      await client.close();
      await server.stop();
      running.splice(running.indexOf(launcher), 1);
    },
  };
  running.push(launcher);
  return launcher;
}

/** Every BSON type the services (and a user's data) may hold; read back with int64 as bigint. */
const asRead = <T extends { long: Long }>(doc: T) => ({ ...doc, long: doc.long.toBigInt() });
const sample = (i: number) => ({
  _id: `doc-${String(i).padStart(4, "0")}`,
  slot: `conversation-${i % 7}#${i}`,
  a: i % 10,
  b: `b${Math.floor(i / 10)}`,
  text: `héllo wörld ${i} ✓`,
  int: i,
  negative: -i - 1,
  long: Long.fromBigInt(2n ** 40n + BigInt(i)),
  double: i + 0.25,
  flag: i % 2 === 0,
  at: new Date(1_700_000_000_000 + i),
  oid: new ObjectId(i.toString(16).padStart(24, "0")),
  nested: { deep: { list: [i, "x", { y: null }], empty: {} }, when: new Date(0) },
  nothing: null,
  bin: new Binary(Buffer.from([i % 256, 0, 255])),
  dec: Decimal128.fromString(`${i}.5`),
  tags: ["t1", `t${i}`],
});

describe("Mongo-wire server: compact store format", () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "chat-mongo-store-"));
    file = join(dir, "chat.mv.db");
    port = await freePort();
  }, 600_000);
  afterEach(async () => {
    for (const launcher of [...running]) await launcher.stop();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("copies a file of the stock (Java-serialized) format into the compact one, losing nothing", async () => {
    const stock = await launch("java-serialized");
    const docs = Array.from({ length: 3000 }, (_, i) => sample(i));
    const messages = stock.client.db("chat").collection<ReturnType<typeof sample>>("messages");
    await messages.createIndex({ slot: 1 }, { unique: true });
    await messages.createIndex({ a: 1, b: 1 }, { unique: true });
    await messages.insertMany(docs);
    await stock.client.db("other").collection<{ _id: string | number; n: number }>("counters").insertMany([{ _id: "c", n: 41 }, { _id: 7, n: 7 }]);
    await stock.stop();

    const compact = await launch("compact");
    expect(compact.output()).toMatch(/copied \d+ entries/);
    // The `_id` index answers from the documents' map: its own copy of the ids is gone.
    expect(compact.output()).toMatch(/chat\.messages: the _id index's copy of 3000 ids removed, 0 kept apart/);
    expect(compact.output()).toMatch(/other\.counters: the _id index's copy of 2 ids removed, 1 kept apart/);
    expect(existsSync(`${file}.java-serialized`)).toBe(true);
    const copied = compact.client.db("chat").collection<ReturnType<typeof sample>>("messages");
    expect(await copied.find({}, { useBigInt64: true }).sort({ _id: 1 }).toArray()).toEqual(docs.map(asRead));
    const counters = compact.client.db("other").collection<{ _id: string | number; n: number }>("counters");
    expect(await counters.find({}).sort({ n: 1 }).toArray()).toEqual([{ _id: 7, n: 7 }, { _id: "c", n: 41 }]);
    // Both kinds of `_id` still refuse a second document, after the index's own copy of the ids is gone.
    for (const _id of ["c", 7.0, "doc-0005"]) {
      const taken = await (_id === "doc-0005" ? copied.insertOne({ ...sample(9999), _id }) : counters.insertOne({ _id, n: 0 })).catch((e: unknown) => e);
      expect((taken as MongoServerError).code, String(_id)).toBe(11000);
    }
    expect((await counters.findOne({ _id: 7.0 }))?.n).toBe(7);
    // The unique indexes came along, as lookups and as constraints.
    const names = (await copied.listIndexes().toArray()).map((index) => index.name as string).sort();
    expect(names).toEqual(["_id_", "a_1_b_1", "slot_1"]);
    const slots = [5, 777, 2999].map((i) => `conversation-${i % 7}#${i}`);
    expect((await copied.find({ slot: { $in: slots } }).toArray()).map((d) => d._id).sort()).toEqual(["doc-0005", "doc-0777", "doc-2999"]);
    expect((await copied.findOne({ a: 3, b: "b12" }))?._id).toBe("doc-0123");
    const duplicate = await copied.insertOne({ ...sample(5), _id: "other" }).catch((e: unknown) => e);
    expect((duplicate as MongoServerError).code).toBe(11000);
    await compact.stop();
  }, 180_000);

  it("keeps what it writes across a restart, with unique keys compared by value", async () => {
    const first = await launch("compact");
    expect(first.output()).not.toMatch(/copying/);
    const coll = first.client.db("chat").collection<ReturnType<typeof sample>>("written");
    await coll.createIndex({ slot: 1 }, { unique: true });
    const docs = Array.from({ length: 500 }, (_, i) => sample(i + 5000));
    await coll.insertMany(docs);
    await coll.updateOne({ _id: "doc-5001" }, { $set: { "nested.deep.list.1": "changed" }, $inc: { int: 10 } });
    // Keys of several types in one unique index; equal values collide, different ones do not.
    const mixed = first.client.db("chat").collection("mixed");
    await mixed.createIndex({ k: 1 }, { unique: true });
    await mixed.insertMany([{ k: 1 }, { k: "1" }, { k: new Date(1) }, { k: null }, { k: [2, 3] }, { k: { x: 1 } }]);
    for (const again of [{ k: 1 }, { k: "1" }, { k: 3 }, { k: { x: 1 } }]) {
      const err = await mixed.insertOne(again).catch((e: unknown) => e);
      expect((err as MongoServerError).code, JSON.stringify(again)).toBe(11000);
    }
    await first.stop();

    const second = await launch("compact");
    const reread = second.client.db("chat").collection("written");
    const expected = docs.map((d) => (d._id === "doc-5001" ? { ...d, int: d.int + 10, nested: { ...d.nested, deep: { ...d.nested.deep, list: [5001, "changed", { y: null }] } } } : d));
    expect(await reread.find({}, { useBigInt64: true }).sort({ _id: 1 }).toArray()).toEqual(expected.map(asRead));
    expect(await second.client.db("chat").collection("mixed").countDocuments()).toBe(6);
    expect((await second.client.db("chat").collection("mixed").findOne({ k: 3 }))?.k).toEqual([2, 3]);
    // Atomic increments still hold on this format.
    const counter = second.client.db("chat").collection<{ _id: string; n: number }>("counter");
    await counter.insertOne({ _id: "c", n: 0 });
    const values = await Promise.all(Array.from({ length: 200 }, () => counter.findOneAndUpdate({ _id: "c" }, { $inc: { n: 1 } }, { returnDocument: "after" })));
    expect(new Set(values.map((v) => v?.n)).size).toBe(200);
    await second.stop();
  }, 180_000);

  it("reads a file written with the earlier string encoding, and writes beside it", async () => {
    // test/fixtures/mongo-wire-compact-1.mv.db.gz: these 20 documents in chat.written (unique
    // index on slot), written by the launcher of commit 85c8d45, which stored strings and
    // document keys as H2's char data; the launcher now writes UTF-8 bytes under new tags.
    const earlier = (i: number) => ({
      _id: `doc-${String(i).padStart(4, "0")}`,
      slot: `conversation-${i % 7}#${i}`,
      text: `héllo wörld ${i} ✓ 𝄞`,
      int: i,
      long: Long.fromBigInt(2n ** 40n + BigInt(i)),
      double: i + 0.25,
      flag: i % 2 === 0,
      at: new Date(1_700_000_000_000 + i),
      oid: new ObjectId(i.toString(16).padStart(24, "0")),
      nested: { deep: { list: [i, "x", { y: null }], empty: {} }, ключ: "значение" },
      nothing: null,
      bin: new Binary(Buffer.from([i % 256, 0, 255])),
      dec: Decimal128.fromString(`${i}.5`),
      tags: ["t1", `t${i}`],
    });
    const old = join(dir, "compact-1.mv.db");
    writeFileSync(old, gunzipSync(readFileSync(join(repoRoot, "test/fixtures/mongo-wire-compact-1.mv.db.gz"))));
    const saved = file;
    file = old;
    try {
      const expected = Array.from({ length: 20 }, (_, i) => earlier(i));
      const first = await launch("compact");
      const coll = first.client.db("chat").collection<ReturnType<typeof earlier>>("written");
      expect(await coll.find({}, { useBigInt64: true }).sort({ _id: 1 }).toArray()).toEqual(expected.map(asRead));
      // Written now, in the new encoding, next to the old pages; the old unique keys still hold.
      const added = [20, 21].map(earlier);
      await coll.insertMany(added);
      await coll.updateOne({ _id: "doc-0003" }, { $set: { text: "änderung ✓" } });
      const duplicate = await coll.insertOne({ ...earlier(5), _id: "other" }).catch((e: unknown) => e);
      expect((duplicate as MongoServerError).code).toBe(11000);
      // That file's `_id` index kept its own copy of the ids; the documents' map answers now.
      const duplicateId = await coll.insertOne({ ...earlier(30), _id: "doc-0004" }).catch((e: unknown) => e);
      expect((duplicateId as MongoServerError).code).toBe(11000);
      await first.stop();

      const second = await launch("compact");
      const reread = second.client.db("chat").collection<ReturnType<typeof earlier>>("written");
      const all = [...expected, ...added].map((d) => (d._id === "doc-0003" ? { ...d, text: "änderung ✓" } : d));
      expect(await reread.find({}, { useBigInt64: true }).sort({ _id: 1 }).toArray()).toEqual(all.map(asRead));
      expect((await reread.findOne({ slot: "conversation-0#21" }))?._id).toBe("doc-0021");
      await second.stop();
    } finally {
      file = saved;
    }
  }, 120_000);

  it("finds and guards `_id`s of every type without a second copy of each string or ObjectId id", async () => {
    // Strings and ObjectIds are looked up in the documents' own map; other ids (numbers, whose
    // 1 and 1.0 are one key, documents) in a map of their own. (A null `_id` never reaches the
    // server: the driver puts an ObjectId in its place.)
    const oid = new ObjectId("65a000000000000000000001");
    type Id = string | number | ObjectId | Long | { k: number };
    const ids: Id[] = ["a", "b", oid, 1, 2.5, Long.fromNumber(2 ** 40), { k: 1 }];
    const check = async (launcher: Launcher) => {
      const coll = launcher.client.db("chat").collection<{ _id: Id; n: number }>("ids");
      expect(await coll.countDocuments()).toBe(ids.length);
      for (const [n, id] of ids.entries()) expect((await coll.findOne({ _id: id }))?.n, String(id)).toBe(n);
      expect((await coll.findOne({ _id: 1.0 }))?.n).toBe(3); // 1 and 1.0 are one key
      expect((await coll.findOne({ _id: "1" }))).toBeNull(); // a string is not the number
      const some = await coll.find({ _id: { $in: ["b", oid, 2.5, "missing", 7] } }).toArray();
      expect(some.map((d) => d.n).sort()).toEqual([1, 2, 4]);
      for (const id of [...ids, 1.0, Long.fromNumber(1)]) {
        const err = await coll.insertOne({ _id: id, n: -1 }).catch((e: unknown) => e);
        expect((err as MongoServerError).code, `duplicate ${String(id)}`).toBe(11000);
      }
      // Removing a document frees its id, of either kind.
      for (const id of ["b", 2.5]) {
        await coll.deleteOne({ _id: id });
        expect(await coll.findOne({ _id: id })).toBeNull();
        await coll.insertOne({ _id: id, n: ids.indexOf(id) });
      }
      await coll.updateOne({ _id: oid }, { $set: { n: 2 } });
      expect(await coll.countDocuments()).toBe(ids.length);
    };
    const first = await launch("compact");
    await first.client.db("chat").collection<{ _id: Id; n: number }>("ids").insertMany(ids.map((_id, n) => ({ _id, n })));
    await check(first);
    await first.stop();
    const second = await launch("compact");
    await check(second);
    // A dropped collection leaves no ids behind for one of the same name.
    const again = second.client.db("chat").collection<{ _id: Id; n: number }>("ids");
    await again.drop();
    await again.insertMany(ids.map((_id, n) => ({ _id, n })));
    await check(second);
    await second.stop();
  }, 120_000);

  it("refuses to open a compact file with the stock backend", async () => {
    await expect(launch("java-serialized")).rejects.toThrow(/compact format/);
  }, 60_000);
});
