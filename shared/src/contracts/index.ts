export * from "./zod.ts";
export * from "./http/errors.ts";
export * from "./http/auth.ts";
export * from "./http/users.ts";
export * from "./openapi.ts";
