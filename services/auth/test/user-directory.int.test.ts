import { afterAll, describe, expect, it } from "vitest";
import { ConflictError, createLogger, createMongo, type MongoDependency } from "@chat/shared";
import { medianMs, stackEnv, uniqueName } from "@chat/shared/testing";
import { createUserStore, type UserDoc, type UserStore } from "../src/users/user-store.ts";

const logger = createLogger({ name: "test", level: "silent" });

async function listAll(users: UserStore, limit: number): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | undefined;
  for (let pages = 0; pages < 10_000; pages++) {
    const page = await users.list(limit, cursor);
    expect(page.users.length).toBeLessThanOrEqual(limit);
    ids.push(...page.users.map((u) => u._id));
    if (!page.nextCursor) return ids;
    cursor = page.nextCursor;
  }
  throw new Error("listing never ended");
}

/**
 * Listing users (the directory page, the planner's active users) reads the directory by key on
 * the real Mongo-wire server, never a sorted range over `users`.
 */
describe("user directory: listings by key", () => {
  const dbs: MongoDependency[] = [];
  const freshStore = async () => {
    const mongo = await createMongo({ url: stackEnv.mongoUrl, dbName: uniqueName("users").replace(/-/g, "_"), logger });
    dbs.push(mongo);
    const users = createUserStore(mongo.db);
    await users.ensureIndexes();
    return { mongo, users };
  };
  const register = (users: UserStore, name: string) => users.insert({ username: name, email: `${name}@example.test`, passwordHash: "x" });

  afterAll(async () => {
    for (const m of dbs) {
      await m.db.dropDatabase().catch(() => undefined);
      await m.close();
    }
  });

  it("lists every user once, in registration order, past a refused registration and racing seeds", async () => {
    const { users } = await freshStore();
    const first = await register(users, "ann");
    await expect(register(users, "ANN")).rejects.toBeInstanceOf(ConflictError); // its position stays empty
    const second = await register(users, "bob");
    // Two seeds of the same names at once: one copy of each user, listed once.
    const names = Array.from({ length: 1500 }, (_, i) => `seed${i}`);
    const [a, b] = await Promise.all([users.seed(names, "x"), users.seed(names, "x")]);
    expect(a.map((u) => u._id)).toEqual(b.map((u) => u._id));
    const third = await register(users, "cid");

    const listed = await listAll(users, 7);
    expect(listed.length).toBe(1503);
    expect(new Set(listed).size).toBe(1503);
    expect(listed[0]).toBe(first._id);
    expect(listed[1]).toBe(second._id);
    expect(listed.at(-1)).toBe(third._id);
    expect(await listAll(users, 100)).toEqual(listed);
  });

  it("pages the planner's users from the directory alone, puts back a user a crash left out, and refuses a cursor it did not hand out", async () => {
    const { mongo, users } = await freshStore();
    const made = await users.seed(Array.from({ length: 30 }, (_, i) => `act${i}`), "x");
    await expect(register(users, "ACT3")).rejects.toBeInstanceOf(ConflictError); // leaves an empty position
    const late = await register(users, "late");
    const all = async () => {
      const ids: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await users.activeIds(4, cursor);
        ids.push(...page.ids);
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
      return ids;
    };
    expect(await all()).toEqual([...made.map((u) => u._id), late._id]);

    // A crash between the user's insert and its directory entry: out of every listing until it logs in.
    const lost = made[7]!;
    await mongo.db.collection("user_directory").updateOne({ _id: 0 as never }, { $unset: { [`at.p${lost.dirPos}`]: "" } });
    expect(await all()).not.toContain(lost._id);
    await users.ensureListed((await users.findByLogin(lost.username))!);
    expect(await all()).toEqual([...made.map((u) => u._id), late._id]);

    await expect(users.list(5, "usernameKey-from-before")).rejects.toMatchObject({ status: 400, code: "VALIDATION_FAILED" });
    expect((await users.list(5, "999999")).users).toEqual([]);
  });

  it("places users stored before the directory existed, once", async () => {
    const { mongo, users } = await freshStore();
    const now = new Date();
    const old: UserDoc[] = Array.from({ length: 2500 }, (_, i) => ({
      _id: `old-${i}`,
      username: `old${i}`,
      usernameKey: `old${i}`,
      email: `old${i}@example.test`,
      passwordHash: "x",
      displayName: `old${i}`,
      bio: "",
      avatarUrl: null,
      active: true,
      createdAt: now,
      updatedAt: now,
    }));
    await mongo.db.collection<UserDoc>("users").insertMany(old);
    expect(await users.migrateDirectory()).toBe(2500);
    expect(await users.migrateDirectory()).toBe(0);
    const fresh = await register(users, "newcomer");
    const listed = await listAll(users, 100);
    expect(listed.length).toBe(2501);
    expect(new Set(listed)).toEqual(new Set([...old.map((u) => u._id), fresh._id]));
  });

  it("a directory page costs the same with 20,000 users stored as with 100", async () => {
    const { users } = await freshStore();
    await users.seed(Array.from({ length: 100 }, (_, i) => `few${i}`), "x");
    const small = await medianMs(15, () => users.list(20, "40"));
    for (let from = 100; from < 20_000; from += 5000) await users.seed(Array.from({ length: Math.min(5000, 20_000 - from) }, (_, i) => `few${from + i}`), "x");
    const large = await medianMs(15, () => users.list(20, "40"));
    // A scan over 20,000 users costs tens of ms here; key lookups stay at a few.
    expect(large).toBeLessThan(Math.max(10, small * 4));
  });
});
