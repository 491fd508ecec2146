import { idSchema, z } from "../zod.ts";
import { changeResultSchema, historyQuerySchema, historyResponseSchema } from "../http/conversations.ts";
import { internalRoute } from "./route.ts";

/** Conversations one participants request may name. */
export const PARTICIPANTS_BATCH_MAX = 500;
/** Users one contacts request may name. */
export const CONTACTS_BATCH_MAX = 200;

// The message service's internal routes (`/internal` on the message service, behind the
// internal token). Callers have already authenticated the user they act for.

/**
 * Many direct conversations at once, each created when missing (the AutoMessage worker's
 * batches): one answer per pair, in order, a pair that cannot be created (a user that no
 * longer exists) answered with its error instead of failing the others.
 */
export const directConversationsRoute = internalRoute({
  method: "POST",
  path: "/internal/conversations/direct/batch",
  body: z.object({ pairs: z.array(z.tuple([idSchema, idSchema])).min(1).max(250) }).strict(),
  query: undefined,
  response: z.object({
    results: z.array(
      z.union([
        z.object({ conversationId: z.string(), created: z.boolean() }),
        z.object({ error: z.object({ code: z.string(), message: z.string(), retriable: z.boolean() }) }),
      ]),
    ),
  }),
});

/**
 * Who is in each of these conversations (gateways cache it: membership is fixed at creation).
 * A gateway asks for every conversation it misses at once: after a start or a reconnect storm
 * that is hundreds at a time. Conversations that do not exist are left out of the answer.
 */
export const participantsRoute = internalRoute({
  method: "POST",
  path: "/internal/conversations/participants",
  body: z.object({ conversationIds: z.array(idSchema).min(1).max(PARTICIPANTS_BATCH_MAX) }).strict(),
  query: undefined,
  response: z.object({ conversations: z.array(z.object({ conversationId: z.string(), participantIds: z.array(idSchema) })) }),
});

/** A history page, as the public route gives it (gateways' resume). */
export const internalHistoryRoute = internalRoute({
  method: "GET",
  path: "/internal/conversations/:id/messages",
  body: undefined,
  query: historyQuerySchema,
  response: historyResponseSchema,
});

/**
 * Everyone who shares a conversation with each of these users: who hears about their presence.
 * Gateways ask for all the users whose presence changed at once (a start, a swept gateway).
 */
export const contactsRoute = internalRoute({
  method: "POST",
  path: "/internal/users/contacts",
  body: z.object({ userIds: z.array(idSchema).min(1).max(CONTACTS_BATCH_MAX) }).strict(),
  query: undefined,
  response: z.object({ users: z.array(z.object({ userId: idSchema, contactIds: z.array(idSchema) })) }),
});

/**
 * An edit or delete asked for on a socket (gateways): the message service checks it as it
 * checks the REST one (member, sender, content) and puts it on `message.send`.
 */
export const messageChangeRoute = internalRoute({
  method: "POST",
  path: "/internal/conversations/:id/messages/:messageId/changes",
  body: z.discriminatedUnion("type", [
    z.object({ type: z.literal("edit"), actorId: idSchema, content: z.string() }).strict(),
    z.object({ type: z.literal("delete"), actorId: idSchema }).strict(),
  ]),
  query: undefined,
  response: changeResultSchema,
});
