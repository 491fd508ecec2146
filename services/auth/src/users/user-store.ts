import { randomUUID } from "node:crypto";
import { MongoServerError, type Collection, type Db } from "mongodb";
import { ConflictError } from "@chat/shared";
import type { ProfileUpdate, PublicUser, SelfUser } from "@chat/shared/contracts";

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
  createdAt: Date;
  updatedAt: Date;
}

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

/** `users` in MongoDB; uniqueness is enforced by indexes, never by check-then-insert. */
export function createUserStore(db: Db) {
  const users: Collection<UserDoc> = db.collection<UserDoc>("users");

  return {
    collection: users,

    async ensureIndexes(): Promise<void> {
      await users.createIndex({ usernameKey: 1 }, { unique: true, name: "usernameKey_unique" });
      await users.createIndex({ email: 1 }, { unique: true, name: "email_unique" });
    },

    async insert(input: { username: string; email: string; passwordHash: string }): Promise<UserDoc> {
      const now = new Date();
      const doc: UserDoc = {
        _id: randomUUID(),
        username: input.username,
        usernameKey: input.username.toLowerCase(),
        email: input.email,
        passwordHash: input.passwordHash,
        displayName: input.username,
        bio: "",
        avatarUrl: null,
        active: true,
        createdAt: now,
        updatedAt: now,
      };
      try {
        await users.insertOne(doc);
      } catch (err) {
        if (err instanceof MongoServerError && err.code === 11000) {
          // Not every Mongo-wire server names the index in the error: ask which one holds it.
          const field = (await users.findOne({ email: doc.email }, { projection: { _id: 1 } })) ? "email" : "username";
          throw new ConflictError(`That ${field} is already taken`, { field }, field === "email" ? "EMAIL_TAKEN" : "USERNAME_TAKEN");
        }
        throw err;
      }
      return doc;
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
      const missing: UserDoc[] = usernames
        .filter((u) => !existing.has(u.toLowerCase()))
        .map((username) => ({
          _id: randomUUID(),
          username,
          usernameKey: username.toLowerCase(),
          email: `${username.toLowerCase()}@loadtest.invalid`,
          passwordHash,
          displayName: username,
          bio: "",
          avatarUrl: null,
          active: true,
          createdAt: now,
          updatedAt: now,
        }));
      if (missing.length > 0) {
        await users.insertMany(missing, { ordered: false }).catch((err: unknown) => {
          if (!(err instanceof MongoServerError && err.code === 11000)) throw err;
        });
      }
      const found = await users.find({ usernameKey: { $in: keys } }).toArray();
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

    /** Keyset pagination on `usernameKey`: stable under inserts, no skip scans. */
    async list(limit: number, after: string | undefined): Promise<{ users: UserDoc[]; nextCursor: string | null }> {
      const filter = after ? { usernameKey: { $gt: after } } : {};
      const page = await users.find(filter).sort({ usernameKey: 1 }).limit(limit + 1).toArray();
      const more = page.length > limit;
      const slice = more ? page.slice(0, limit) : page;
      return { users: slice, nextCursor: more ? (slice[slice.length - 1]?.usernameKey ?? null) : null };
    },
  };
}

export type UserStore = ReturnType<typeof createUserStore>;
