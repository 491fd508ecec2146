import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MongoServerError } from "mongodb";
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
});
