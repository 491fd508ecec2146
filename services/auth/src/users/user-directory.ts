import type { Collection, Db } from "mongodb";

/** Positions per directory bucket document. */
export const DIRECTORY_BUCKET = 1000;

/**
 * Every user in registration order, so that listing users (the directory page, the planner's
 * active users) reads buckets by key and never sorts or ranges over `users` (a scan on the
 * Mongo-wire stand-in, which uses an index only for plain equality or `$in` on one unique field).
 *
 * A registration reserves a position (`$inc` on one counter), inserts the user with `dirPos` =
 * that position, and only then writes its id there (`user_directory` bucket `floor(pos / 1000)`,
 * field `at.p<pos % 1000>`). So every id in the directory is a user that exists: a registration
 * refused (a taken username) leaves an empty position, which readers skip. A crash between the
 * insert and the write leaves the user out of the directory until their next login, which puts
 * them back (`ensureListed`).
 */
interface BucketDoc {
  _id: number;
  at: Record<string, string>;
}

interface CounterDoc {
  _id: string;
  next: number;
}

const COUNTER = "users.directory";

export function createUserDirectory(db: Db) {
  const buckets: Collection<BucketDoc> = db.collection<BucketDoc>("user_directory");
  const counters: Collection<CounterDoc> = db.collection<CounterDoc>("counters");

  /** Writes each user id at its position: one update per bucket touched. */
  async function placeAll(entries: Array<{ pos: number; userId: string }>): Promise<void> {
    const byBucket = new Map<number, Record<string, string>>();
    for (const { pos, userId } of entries) {
      const bucket = Math.floor(pos / DIRECTORY_BUCKET);
      const set = byBucket.get(bucket) ?? {};
      set[`at.p${pos % DIRECTORY_BUCKET}`] = userId;
      byBucket.set(bucket, set);
    }
    if (byBucket.size === 0) return;
    await buckets.bulkWrite(
      [...byBucket].map(([bucket, set]) => ({ updateOne: { filter: { _id: bucket }, update: { $set: set }, upsert: true } })),
      { ordered: false },
    );
  }

  return {
    placeAll,

    /** Reserves `count` consecutive positions; returns the first. */
    async reserve(count: number): Promise<number> {
      for (let attempt = 0; ; attempt++) {
        try {
          const before = await counters.findOneAndUpdate({ _id: COUNTER }, { $inc: { next: count } }, { upsert: true, returnDocument: "before" });
          return before?.next ?? 0;
        } catch (err) {
          // Two first-ever upserts can race on MongoDB: the loser retries and finds the counter.
          if (attempt > 0 || (err as { code?: number }).code !== 11000) throw err;
        }
      }
    },

    /** Writes user ids at consecutive positions from `first`. */
    place(first: number, userIds: string[]): Promise<void> {
      return placeAll(userIds.map((userId, i) => ({ pos: first + i, userId })));
    },

    /** Positions handed out so far (the end of the directory). */
    async size(): Promise<number> {
      return (await counters.findOne({ _id: COUNTER }))?.next ?? 0;
    },

    /** Whether `userId` is written at `pos`. */
    async holds(pos: number, userId: string): Promise<boolean> {
      const field = `at.p${pos % DIRECTORY_BUCKET}`;
      const doc = await buckets.findOne({ _id: Math.floor(pos / DIRECTORY_BUCKET) }, { projection: { [field]: 1 } });
      return doc?.at?.[`p${pos % DIRECTORY_BUCKET}`] === userId;
    },

    /** The user ids written at positions [from, to), in order, with the position of each. */
    async range(from: number, to: number): Promise<Array<{ pos: number; userId: string }>> {
      if (to <= from) return [];
      const ids: number[] = [];
      for (let b = Math.floor(from / DIRECTORY_BUCKET); b <= Math.floor((to - 1) / DIRECTORY_BUCKET); b++) ids.push(b);
      const docs = new Map((await buckets.find({ _id: { $in: ids } }).toArray()).map((d) => [d._id, d]));
      const out: Array<{ pos: number; userId: string }> = [];
      for (let pos = from; pos < to; pos++) {
        const userId = docs.get(Math.floor(pos / DIRECTORY_BUCKET))?.at?.[`p${pos % DIRECTORY_BUCKET}`];
        if (userId) out.push({ pos, userId });
      }
      return out;
    },
  };
}

export type UserDirectory = ReturnType<typeof createUserDirectory>;
