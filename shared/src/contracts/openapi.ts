import { OpenAPIRegistry, OpenApiGeneratorV3, type RouteConfig } from "@asteasolutions/zod-to-openapi";
import { z } from "./zod.ts";
import { errorResponseSchema } from "./http/errors.ts";
import {
  authResultSchema,
  loginRequestSchema,
  profileUpdateSchema,
  refreshRequestSchema,
  registerRequestSchema,
  selfUserSchema,
  tokenPairSchema,
} from "./http/auth.ts";
import {
  changeResultSchema,
  conversationIdParamsSchema,
  conversationListQuerySchema,
  conversationSchema,
  createConversationSchema,
  editMessageBodySchema,
  historyQuerySchema,
  historyResponseSchema,
  messageParamsSchema,
  searchQuerySchema,
  searchResponseSchema,
  sendMessageBodySchema,
  sendMessageResultSchema,
} from "./http/conversations.ts";
import { onlineUsersResponseSchema, userIdParamsSchema, userListQuerySchema, userListResponseSchema, userOnlineResponseSchema } from "./http/users.ts";

type Responses = RouteConfig["responses"];

const json = (schema: z.ZodTypeAny, description: string) => ({ description, content: { "application/json": { schema } } });
const error = (description: string) => json(errorResponseSchema, description);

const commonErrors: Responses = {
  400: error("Validation failed; `details.fields` lists each problem"),
  413: error("Body too large"),
  429: error("Rate limited; see the Retry-After header"),
};
const authedErrors: Responses = { ...commonErrors, 401: error("Missing, invalid, expired or revoked access token") };

/** Every public REST operation, described by the same zod schemas that validate it. */
export function buildOpenApiRegistry(): OpenAPIRegistry {
  const registry = new OpenAPIRegistry();
  const bearer = registry.registerComponent("securitySchemes", "bearerAuth", { type: "http", scheme: "bearer", bearerFormat: "JWT" });
  const secured = [{ [bearer.name]: [] }];
  const body = (schema: z.ZodTypeAny) => ({ body: { content: { "application/json": { schema } } } });

  registry.registerPath({
    method: "post",
    path: "/api/auth/register",
    tags: ["auth"],
    summary: "Create an account and a first session",
    request: body(registerRequestSchema),
    responses: { 201: json(authResultSchema, "Registered"), 409: error("Username or email already taken"), ...commonErrors },
  });
  registry.registerPath({
    method: "post",
    path: "/api/auth/login",
    tags: ["auth"],
    summary: "Log in with email or username",
    request: body(loginRequestSchema),
    responses: { 200: json(authResultSchema, "Logged in"), 401: error("Invalid login or password (same answer either way)"), ...commonErrors },
  });
  registry.registerPath({
    method: "post",
    path: "/api/auth/refresh",
    tags: ["auth"],
    summary: "Rotate a refresh token; reusing a spent one revokes its whole session",
    request: body(refreshRequestSchema),
    responses: { 200: json(tokenPairSchema, "New token pair"), 401: error("Invalid, spent or revoked refresh token"), ...commonErrors },
  });
  registry.registerPath({
    method: "post",
    path: "/api/auth/logout",
    tags: ["auth"],
    summary: "Revoke this access token and its session on every gateway",
    security: secured,
    responses: { 204: { description: "Logged out" }, ...authedErrors },
  });
  registry.registerPath({
    method: "get",
    path: "/api/auth/me",
    tags: ["auth"],
    security: secured,
    responses: { 200: json(z.object({ user: selfUserSchema }), "The caller"), ...authedErrors },
  });
  registry.registerPath({
    method: "patch",
    path: "/api/auth/me",
    tags: ["auth"],
    summary: "Update the profile (displayName, bio, avatarUrl)",
    security: secured,
    request: body(profileUpdateSchema),
    responses: { 200: json(z.object({ user: selfUserSchema }), "Updated"), ...authedErrors },
  });
  registry.registerPath({
    method: "get",
    path: "/api/user/list",
    tags: ["users"],
    security: secured,
    request: { query: userListQuerySchema },
    responses: { 200: json(userListResponseSchema, "A page of users, each with `online`"), ...authedErrors },
  });
  registry.registerPath({
    method: "get",
    path: "/api/user/online",
    tags: ["users"],
    security: secured,
    responses: { 200: json(onlineUsersResponseSchema, "Users with at least one connected device"), ...authedErrors },
  });
  registry.registerPath({
    method: "get",
    path: "/api/user/{id}/online",
    tags: ["users"],
    security: secured,
    request: { params: userIdParamsSchema },
    responses: { 200: json(userOnlineResponseSchema, "Whether the user is online"), 404: error("No such user"), ...authedErrors },
  });
  const conversation = z.object({ conversation: conversationSchema });
  const notMember = error("Not a member of this conversation (NOT_A_MEMBER)");
  registry.registerPath({
    method: "get",
    path: "/api/conversations",
    tags: ["conversations"],
    security: secured,
    request: { query: conversationListQuerySchema },
    responses: { 200: json(z.object({ conversations: z.array(conversationSchema) }), "Mine, newest activity first, with lastMessage and unreadCount"), ...authedErrors },
  });
  registry.registerPath({
    method: "post",
    path: "/api/conversations",
    tags: ["conversations"],
    security: secured,
    request: body(createConversationSchema),
    responses: { 201: json(conversation, "Created"), 200: json(conversation, "The direct conversation of this pair already existed"), ...authedErrors },
  });
  registry.registerPath({
    method: "get",
    path: "/api/conversations/{id}",
    tags: ["conversations"],
    security: secured,
    request: { params: conversationIdParamsSchema },
    responses: { 200: json(conversation, "The conversation"), 403: notMember, 404: error("No such conversation"), ...authedErrors },
  });
  registry.registerPath({
    method: "get",
    path: "/api/conversations/{id}/messages",
    tags: ["messages"],
    security: secured,
    request: { params: conversationIdParamsSchema, query: historyQuerySchema },
    responses: { 200: json(historyResponseSchema, "A page of history (ascending seq): messages in their current state, and the edits and deletes in the page"), 403: notMember, 404: error("No such conversation"), ...authedErrors },
  });
  registry.registerPath({
    method: "post",
    path: "/api/conversations/{id}/messages",
    tags: ["messages"],
    security: secured,
    request: { params: conversationIdParamsSchema, ...body(sendMessageBodySchema) },
    responses: { 202: json(sendMessageResultSchema, "Durable in Kafka; stored and delivered shortly"), 403: notMember, 404: error("No such conversation"), 503: error("Kafka did not take it in time; send again (idempotent on clientMsgId)"), ...authedErrors },
  });
  const changeErrors: Responses = {
    403: error("Not a member (NOT_A_MEMBER), or not the message's sender (NOT_THE_SENDER)"),
    404: error("No such conversation, or no such message in it (MESSAGE_NOT_FOUND)"),
    503: error("Kafka did not take it in time; try again"),
    ...authedErrors,
  };
  registry.registerPath({
    method: "patch",
    path: "/api/conversations/{id}/messages/{messageId}",
    tags: ["messages"],
    security: secured,
    description: "The sender's new content. Travels through Kafka behind the conversation's messages and reaches every participant's devices as `message_edited`.",
    request: { params: messageParamsSchema, ...body(editMessageBodySchema) },
    responses: { 202: json(changeResultSchema, "Durable in Kafka; applied shortly"), 409: error("The message was deleted (MESSAGE_DELETED)"), ...changeErrors },
  });
  registry.registerPath({
    method: "delete",
    path: "/api/conversations/{id}/messages/{messageId}",
    tags: ["messages"],
    security: secured,
    description: "The sender takes the message back: it stays in history as a tombstone (no content, `deletedAt`) and reaches devices as `message_deleted`.",
    request: { params: messageParamsSchema },
    responses: { 202: json(changeResultSchema, "Durable in Kafka; applied shortly"), 200: json(changeResultSchema, "Already deleted (changeId null)"), ...changeErrors },
  });
  registry.registerPath({
    method: "get",
    path: "/api/search",
    tags: ["search"],
    security: secured,
    description: "The caller's messages containing every word of `q`, newest first, from the conversations they are in (or one of them).",
    request: { query: searchQuerySchema },
    responses: {
      200: json(searchResponseSchema, "A page of hits; pass `nextCursor` as `cursor` for the next"),
      403: notMember,
      404: error("No such conversation"),
      503: error("The search engine is unavailable (SEARCH_UNAVAILABLE); messaging is not affected"),
      ...authedErrors,
    },
  });
  return registry;
}

export function buildOpenApiDocument(extend?: (registry: OpenAPIRegistry) => void) {
  const registry = buildOpenApiRegistry();
  extend?.(registry);
  return new OpenApiGeneratorV3(registry.definitions).generateDocument({
    openapi: "3.0.3",
    info: { title: "Chat cluster public API", version: "1.0.0", description: "Served by every gateway replica." },
    servers: [{ url: "/" }],
  });
}
