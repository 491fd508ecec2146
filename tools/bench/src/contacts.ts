// How long a gateway takes to learn whom to tell about many users' presence (a swept gateway's
// users, a start): the message service's contacts route asked for --users users one per
// request in turn (what each announcement cost before they were asked for together) and
// CONTACTS_BATCH_MAX per request, twice each.
//
//   npm run bench:contacts [-- --users 2000 --db chat]
//
// Needs `npm run up` (the message service on 4002); the users are the first of the database's
// inboxes (`user_conversations`), so run it on a database that has chatted (loadtests, bench).
import { parseArgs } from "node:util";
import { MongoClient } from "mongodb";
import { CONTACTS_BATCH_MAX, contactsRoute } from "@chat/shared/contracts";
import { createInternalClient } from "@chat/shared";
import { clusterSecrets } from "./cluster-secrets.ts";

const { values } = parseArgs({ options: { users: { type: "string", default: "2000" }, db: { type: "string", default: process.env.MONGO_DB ?? "chat" } } });
const mongo = new MongoClient(process.env.MONGO_URL ?? "mongodb://127.0.0.1:27017");
const inboxes = await mongo.db(values.db).collection<{ _id: string }>("user_conversations").find({}, { projection: { _id: 1 } }).limit(Number(values.users)).toArray();
await mongo.close();
const users = inboxes.map((d) => d._id);
if (users.length === 0) throw new Error(`no inboxes in database ${values.db}`);
const messageService = createInternalClient({ service: "Message service", baseUrl: "http://127.0.0.1:4002", internalToken: clusterSecrets().internalToken, timeoutMs: 30_000 });

async function timed(perRequest: number): Promise<{ ms: number; contacts: number }> {
  const started = performance.now();
  let contacts = 0;
  for (let i = 0; i < users.length; i += perRequest) {
    const body = await messageService.call(contactsRoute, { body: { userIds: users.slice(i, i + perRequest) } });
    for (const u of body.users) contacts += u.contactIds.length;
  }
  return { ms: performance.now() - started, contacts };
}

console.log(`contacts of ${users.length} users (database ${values.db})`);
for (let round = 1; round <= 2; round++) {
  for (const perRequest of [1, CONTACTS_BATCH_MAX]) {
    const { ms, contacts } = await timed(perRequest);
    console.log(`  round ${round}, ${String(perRequest).padStart(3)} per request: ${ms.toFixed(0)} ms (${contacts} contacts)`);
  }
}
