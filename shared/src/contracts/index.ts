export * from "./zod.ts";
export * from "./http/errors.ts";
export * from "./http/auth.ts";
export * from "./http/users.ts";
export * from "./openapi.ts";
export * from "./topics/index.ts";
export * from "./http/conversations.ts";
export * from "./socket.ts";
