import { MongoBulkWriteError, MongoClient, MongoServerError, type Db } from "mongodb";
import type { Logger } from "../logger.ts";
import { withRetry } from "./retry.ts";
import { withTimeout, type Dependency } from "./dependency.ts";
import { fixMongodbWriteToClosedSocket } from "./mongodb-closed-socket.ts";

fixMongodbWriteToClosedSocket();

/** A write refused only because a unique key is taken (every failed statement of a bulk write, too). */
export function isDuplicateKey(err: unknown): boolean {
  if (err instanceof MongoBulkWriteError) return err.writeErrors instanceof Array ? err.writeErrors.every((e) => e.code === 11000) : err.code === 11000;
  return err instanceof MongoServerError && err.code === 11000;
}

export interface MongoDependency extends Dependency {
  client: MongoClient;
  db: Db;
}

export interface MongoOptions {
  url: string;
  dbName: string;
  logger: Logger;
  /** Connection pool ceiling. @default 20 */
  maxPoolSize?: number;
}

/** Connects (retrying while the server starts) and pings; `check()` pings again. */
export async function createMongo({ url, dbName, logger, maxPoolSize = 20 }: MongoOptions): Promise<MongoDependency> {
  const log = logger.child({ component: "mongo" });
  // The driver re-checks a server it lost only every heartbeatFrequencyMS (10 s by default),
  // and until then every operation waits out its server selection: a store back after a
  // restart went unused for up to 10 s. 1 s costs one `hello` a second.
  const client = new MongoClient(url, { maxPoolSize, serverSelectionTimeoutMS: 5000, connectTimeoutMS: 5000, heartbeatFrequencyMS: 1000 });
  await withRetry(
    async () => {
      await client.connect();
      await client.db(dbName).command({ ping: 1 });
    },
    { what: "mongo connect", logger: log },
  );
  log.info({ dbName }, "mongo connected");
  const db = client.db(dbName);
  let closed = false;
  return {
    name: "mongo",
    client,
    db,
    check: async () => {
      await withTimeout(db.command({ ping: 1 }), 2000, "mongo ping");
    },
    close: async () => {
      if (closed) return;
      closed = true;
      await client.close();
    },
  };
}
