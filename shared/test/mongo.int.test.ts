import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MongoNetworkError, MongoServerError } from "mongodb";
import { createLogger, createMongo, type MongoDependency } from "../src/index.ts";
import { stackEnv, uniqueName } from "../src/testing/index.ts";

const logger = createLogger({ name: "test", level: "silent" });

describe("mongo client factory against the Mongo-wire server", () => {
  let mongo: MongoDependency;
  beforeAll(async () => {
    mongo = await createMongo({ url: stackEnv.mongoUrl, dbName: "chat_test", logger });
  });
  afterAll(() => mongo.close());

  it("reports readiness", async () => {
    await expect(mongo.check()).resolves.toBeUndefined();
  });

  it("inserts, finds sorted, and increments atomically with findOneAndUpdate", async () => {
    const coll = mongo.db.collection<{ _id: string; n: number; counter?: number }>(uniqueName("c"));
    await coll.insertMany([
      { _id: "b", n: 2 },
      { _id: "c", n: 3 },
      { _id: "a", n: 1 },
    ]);
    const sorted = await coll.find({}).sort({ n: -1 }).toArray();
    expect(sorted.map((d) => d._id)).toEqual(["c", "b", "a"]);

    const results = await Promise.all(
      Array.from({ length: 100 }, () =>
        coll.findOneAndUpdate({ _id: "a" }, { $inc: { counter: 1 } }, { returnDocument: "after" }),
      ),
    );
    const seen = results.map((r) => r?.counter).sort((x, y) => (x ?? 0) - (y ?? 0));
    // Every increment saw a distinct value: no lost update.
    expect(seen).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    await coll.drop();
  });

  // The window the store's restarts hit (src/clients/mongodb-closed-socket.ts): Node has destroyed
  // a pooled connection's socket (here by hand, in production on the server's FIN) and emits
  // `close` a turn later. Operations handed that connection in between must still settle.
  it("settles operations on pooled connections whose sockets were just destroyed, and carries on", async () => {
    const sockets: net.Socket[] = [];
    const connect = net.createConnection;
    net.createConnection = ((...args: Parameters<typeof connect>) => {
      const socket = connect(...args);
      sockets.push(socket);
      return socket;
    }) as typeof connect;
    const own = await createMongo({ url: stackEnv.mongoUrl, dbName: "chat_test", logger, maxPoolSize: 8 });
    try {
      const coll = own.db.collection<{ _id: string }>(uniqueName("closed"));
      // Fill the pool: 8 connections, idle once these are answered.
      await Promise.all(Array.from({ length: 8 }, (_, i) => coll.insertOne({ _id: `warm-${i}` })));
      for (const socket of sockets) socket.destroy();
      const outcomes = await Promise.race([
        Promise.allSettled(Array.from({ length: 8 }, (_, i) => coll.insertOne({ _id: `in-window-${i}` }))),
        new Promise<"still waiting">((resolve) => setTimeout(() => resolve("still waiting"), 10_000)),
      ]);
      expect(outcomes).not.toBe("still waiting");
      // Each either failed with the network error or was retried on a new connection.
      for (const o of outcomes as PromiseSettledResult<unknown>[]) if (o.status === "rejected") expect(o.reason).toBeInstanceOf(MongoNetworkError);
      await coll.insertOne({ _id: "after" });
      expect(await coll.countDocuments({ _id: "after" })).toBe(1);
      await coll.drop();
    } finally {
      net.createConnection = connect;
      await own.close();
    }
  });

  it("rejects a duplicate on a unique index with code 11000", async () => {
    const coll = mongo.db.collection<{ email: string }>(uniqueName("u"));
    await coll.createIndex({ email: 1 }, { unique: true });
    await coll.insertOne({ email: "x@example.com" });
    const err = await coll.insertOne({ email: "x@example.com" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MongoServerError);
    expect((err as MongoServerError).code).toBe(11000);
    expect(await coll.countDocuments()).toBe(1);
    await coll.drop();
  });

  // The Mongo-wire launcher guards each collection on its own (infra/native/mongo-wire): what
  // MongoDB promises per document must hold while other collections are busy at the same time.
  describe("concurrency across collections", () => {
    it("keeps 200 concurrent $inc exact while other collections are written and created", async () => {
      const counter = mongo.db.collection<{ _id: string; n: number }>(uniqueName("inc"));
      await counter.insertOne({ _id: "c", n: 0 });
      const others = Array.from({ length: 8 }, () => mongo.db.collection<{ _id: string; v: number }>(uniqueName("busy")));
      const [results] = await Promise.all([
        Promise.all(Array.from({ length: 200 }, () => counter.findOneAndUpdate({ _id: "c" }, { $inc: { n: 1 } }, { returnDocument: "after" }))),
        Promise.all(others.map((c, i) => c.insertMany(Array.from({ length: 200 }, (_, k) => ({ _id: `${i}-${k}`, v: k }))))),
      ]);
      expect(results.map((r) => r?.n).sort((a, b) => (a ?? 0) - (b ?? 0))).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
      for (const c of others) expect(await c.countDocuments()).toBe(200);
      await Promise.all([counter.drop(), ...others.map((c) => c.drop())]);
    });

    it("lets exactly one of 50 concurrent claims win", async () => {
      const jobs = mongo.db.collection<{ _id: string; owner: string | null }>(uniqueName("claims"));
      await jobs.insertOne({ _id: "job", owner: null });
      const outcomes = await Promise.all(
        Array.from({ length: 50 }, (_, i) => jobs.updateOne({ _id: "job", owner: null }, { $set: { owner: `worker-${i}` } })),
      );
      expect(outcomes.filter((o) => o.modifiedCount === 1)).toHaveLength(1);
      await jobs.drop();
    });

    it("moves a value forward only with concurrent $max", async () => {
      const marks = mongo.db.collection<{ _id: string; seq: number }>(uniqueName("max"));
      await marks.insertOne({ _id: "m", seq: 0 });
      const moved = await Promise.all(Array.from({ length: 100 }, (_, i) => marks.updateOne({ _id: "m" }, { $max: { seq: 100 - i } })));
      expect((await marks.findOne({ _id: "m" }))?.seq).toBe(100);
      // Only updates that found a lower value moved it: the first to run, and none after 100 landed.
      expect(moved.filter((r) => r.modifiedCount === 1).length).toBeGreaterThanOrEqual(1);
      await marks.drop();
    });
  });
});
