import { randomUUID } from "node:crypto";
import type { Collection, Db } from "mongodb";
import { ConflictError, ValidationError, isDuplicateKey } from "@chat/shared";
import type { ProfileUpdate, PublicUser, SelfUser } from "@chat/shared/contracts";
import { createUserDirectory } from "./user-directory.ts";

export interface UserDoc {
  _id: string;
  username: string;
  /** Lowercased username: uniqueness is case-insensitive through this unique index. */
  usernameKey: string;
  email: string;
  passwordHash: string;
  displayName: string;
  bio: string;
  avatarUrl: string | null;
  active: boolean;
  /** This user's position in the directory (see user-directory.ts). */
  dirPos?: number;
  createdAt: Date;
  updatedAt: Date;
}

/** Positions a listing reads at once, and how many such reads one page may take past gaps. */
const LIST_WINDOW_SLACK = 2;
const LIST_MAX_READS = 8;

export function toPublicUser(doc: UserDoc): PublicUser {
  return {
    id: doc._id,
    username: doc.username,
    displayName: doc.displayName,
    bio: doc.bio,
    avatarUrl: doc.avatarUrl,
    createdAt: doc.createdAt.toISOString(),
  };
}

export function toSelfUser(doc: UserDoc): SelfUser {
  return { ...toPublicUser(doc), email: doc.email };
}

/**
 * `users` in MongoDB; uniqueness is enforced by indexes, never by check-then-insert. Every read
 * is a key lookup (`_id`, `usernameKey`, `email`); listings go through the directory.
 */
export function createUserStore(db: Db) {
  const users: Collection<UserDoc> = db.collection<UserDoc>("users");
  const directory = createUserDirectory(db);

  /**
   * Walks the directory from `from` until `want` entries that `load` keeps are found or its end
   * is reached, skipping empty positions (refused or in-flight registrations).
   */
  async function walk<T>(from: number, want: number, load: (entries: Array<{ pos: number; userId: string }>) => Promise<Array<T | undefined>>) {
    const end = await directory.size();
    const found: T[] = [];
    let pos = from;
    for (let reads = 0; found.length < want && pos < end && reads < LIST_MAX_READS; reads++) {
      const to = Math.min(end, pos + (want - found.length) * LIST_WINDOW_SLACK);
      const entries = await directory.range(pos, to);
      const loaded = entries.length === 0 ? [] : await load(entries);
      pos = to;
      for (const [i, e] of entries.entries()) {
        const item = loaded[i];
        if (item === undefined) continue;
        found.push(item);
        if (found.length === want) {
          pos = e.pos + 1;
          break;
        }
      }
    }
    return { items: found, next: pos < end ? pos : null };
  }

  return {
    collection: users,

    async ensureIndexes(): Promise<void> {
      await users.createIndex({ usernameKey: 1 }, { unique: true, name: "usernameKey_unique" });
      await users.createIndex({ email: 1 }, { unique: true, name: "email_unique" });
    },

    async insert(input: { username: string; email: string; passwordHash: string }): Promise<UserDoc> {
      const now = new Date();
      const id = randomUUID();
      const dirPos = await directory.reserve(1);
      const doc: UserDoc = {
        _id: id,
        username: input.username,
        usernameKey: input.username.toLowerCase(),
        email: input.email,
        passwordHash: input.passwordHash,
        displayName: input.username,
        bio: "",
        avatarUrl: null,
        active: true,
        dirPos,
        createdAt: now,
        updatedAt: now,
      };
      try {
        await users.insertOne(doc);
      } catch (err) {
        if (isDuplicateKey(err)) {
          // Not every Mongo-wire server names the index in the error: ask which one holds it.
          const field = (await users.findOne({ email: doc.email }, { projection: { _id: 1 } })) ? "email" : "username";
          throw new ConflictError(`That ${field} is already taken`, { field }, field === "email" ? "EMAIL_TAKEN" : "USERNAME_TAKEN");
        }
        throw err;
      }
      await directory.place(dirPos, [id]);
      return doc;
    },

    /** Puts a user back in the directory if a crash kept them out of it (see user-directory.ts). */
    async ensureListed(user: UserDoc): Promise<void> {
      if (user.dirPos !== undefined && !(await directory.holds(user.dirPos, user._id))) await directory.place(user.dirPos, [user._id]);
    },

    /**
     * Creates the missing ones of these usernames (same password hash) with one read and one
     * unordered insert, and returns all of them. A concurrent seed of the same names loses
     * nothing: the unique index refuses the second copy and the final read finds the first.
     */
    async seed(usernames: string[], passwordHash: string): Promise<UserDoc[]> {
      const keys = usernames.map((u) => u.toLowerCase());
      const existing = new Set((await users.find({ usernameKey: { $in: keys } }).project<{ usernameKey: string }>({ usernameKey: 1 }).toArray()).map((u) => u.usernameKey));
      const now = new Date();
      const names = usernames.filter((u) => !existing.has(u.toLowerCase()));
      const first = names.length > 0 ? await directory.reserve(names.length) : 0;
      const missing: UserDoc[] = names.map((username, i) => ({
          _id: randomUUID(),
          username,
          usernameKey: username.toLowerCase(),
          email: `${username.toLowerCase()}@loadtest.invalid`,
          passwordHash,
          displayName: username,
          bio: "",
          avatarUrl: null,
          active: true,
          dirPos: first + i,
          createdAt: now,
          updatedAt: now,
        }));
      if (missing.length > 0) {
        await users.insertMany(missing, { ordered: false }).catch((err: unknown) => {
          if (!isDuplicateKey(err)) throw err;
        });
      }
      const found = await users.find({ usernameKey: { $in: keys } }).toArray();
      // The ones this call inserted (a concurrent seed may have won some names): into the directory.
      const mine = found.filter((u) => u.dirPos !== undefined && u.dirPos >= first && u.dirPos < first + names.length);
      await directory.placeAll(mine.map((u) => ({ pos: u.dirPos!, userId: u._id })));
      const byKey = new Map(found.map((u) => [u.usernameKey, u]));
      return keys.map((k) => byKey.get(k)).filter((u): u is UserDoc => u !== undefined);
    },

    /** By email when it looks like one, else by username, both case-insensitively. */
    findByLogin(login: string): Promise<UserDoc | null> {
      const key = login.trim().toLowerCase();
      return key.includes("@") ? users.findOne({ email: key }) : users.findOne({ usernameKey: key });
    },

    async existingIds(ids: string[]): Promise<string[]> {
      const docs = await users.find({ _id: { $in: ids } }).project<{ _id: string }>({ _id: 1 }).toArray();
      return docs.map((d) => d._id);
    },

    findById(id: string): Promise<UserDoc | null> {
      return users.findOne({ _id: id });
    },

    async updateProfile(id: string, update: ProfileUpdate): Promise<UserDoc | null> {
      const set: Partial<UserDoc> = { updatedAt: new Date() };
      if (update.displayName !== undefined) set.displayName = update.displayName;
      if (update.bio !== undefined) set.bio = update.bio;
      if (update.avatarUrl !== undefined) set.avatarUrl = update.avatarUrl;
      return users.findOneAndUpdate({ _id: id }, { $set: set }, { returnDocument: "after" });
    },

    /**
     * A page of the directory, in registration order, from an opaque cursor (a position):
     * stable under inserts (new users go to the end), every read by key.
     */
    async list(limit: number, cursor: string | undefined): Promise<{ users: UserDoc[]; nextCursor: string | null }> {
      const page = await walk(cursorPosition(cursor), limit, async (entries) => {
        const byId = new Map((await users.find({ _id: { $in: entries.map((e) => e.userId) } }).toArray()).map((d) => [d._id, d]));
        return entries.map((e) => byId.get(e.userId));
      });
      return { users: page.items, nextCursor: page.next === null ? null : String(page.next) };
    },

    /**
     * Ids of active users, a page at a time (the AutoMessage planner reads them all), from the
     * directory alone: every id in it is a user that exists, and no route deactivates a user
     * (one that did would take the user out of the directory).
     */
    async activeIds(limit: number, cursor: string | undefined): Promise<{ ids: string[]; nextCursor: string | null }> {
      const page = await walk(cursorPosition(cursor), limit, (entries) => Promise.resolve(entries.map((e) => e.userId)));
      return { ids: page.items, nextCursor: page.next === null ? null : String(page.next) };
    },

    /**
     * Puts users stored before the directory existed into it. One pass over `users`, once per
     * database (a marker records that it ran); a re-run after a crash places again only the
     * users it had not marked, and a position written twice is skipped by readers.
     */
    async migrateDirectory(): Promise<number> {
      const marker = db.collection<{ _id: string; at: Date }>("migrations");
      if (await marker.findOne({ _id: "users.directory.v1" })) return 0;
      let n = 0;
      let batch: Array<{ _id: string; dirPos?: number }> = [];
      const flush = async () => {
        if (batch.length === 0) return;
        const fresh = batch.filter((u) => u.dirPos === undefined);
        if (fresh.length > 0) {
          const first = await directory.reserve(fresh.length);
          fresh.forEach((u, i) => (u.dirPos = first + i));
          await users.bulkWrite(fresh.map((u) => ({ updateOne: { filter: { _id: u._id }, update: { $set: { dirPos: u.dirPos! } } } })), { ordered: false });
        }
        // Positions given by an earlier, interrupted run are written again (idempotent).
        await directory.placeAll(batch.map((u) => ({ pos: u.dirPos!, userId: u._id })));
        n += batch.length;
        batch = [];
      };
      for await (const u of users.find({}).project<{ _id: string; dirPos?: number }>({ _id: 1, dirPos: 1 })) {
        batch.push(u);
        if (batch.length === 1000) await flush();
      }
      await flush();
      await marker.updateOne({ _id: "users.directory.v1" }, { $set: { at: new Date() } }, { upsert: true });
      return n;
    },
  };
}

/** A listing cursor is a directory position; anything else is a client error. */
function cursorPosition(cursor: string | undefined): number {
  if (cursor === undefined || cursor === "") return 0;
  if (!/^\d{1,12}$/.test(cursor)) throw new ValidationError("Invalid cursor", [{ path: "cursor", message: "use nextCursor from the previous page" }]);
  return Number(cursor);
}

export type UserStore = ReturnType<typeof createUserStore>;
