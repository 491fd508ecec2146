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

    /** Creates the missing ones of these usernames in one bulk write (same password hash); returns all. */
    async seed(usernames: string[], passwordHash: string): Promise<UserDoc[]> {
      const now = new Date();
      await users.bulkWrite(
        usernames.map((username) => ({
          updateOne: {
            filter: { usernameKey: username.toLowerCase() },
            update: {
              $setOnInsert: {
                _id: randomUUID(),
                username,
                email: `${username.toLowerCase()}@loadtest.invalid`,
                passwordHash,
                displayName: username,
                bio: "",
                avatarUrl: null,
                active: true,
                createdAt: now,
                updatedAt: now,
              },
            },
            upsert: true,
          },
        })),
        { ordered: false },
      );
      const found = await users.find({ usernameKey: { $in: usernames.map((u) => u.toLowerCase()) } }).toArray();
      const byKey = new Map(found.map((u) => [u.usernameKey, u]));
      return usernames.map((u) => byKey.get(u.toLowerCase())).filter((u): u is UserDoc => u !== undefined);
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
