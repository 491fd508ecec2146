import { idSchema, z } from "../zod.ts";
import { passwordSchema } from "../http/auth.ts";
import { internalRoute } from "./route.ts";

// The auth service's internal routes (`/internal` on auth, behind the internal token).

/** Which of these ids are no user (the message service, before it creates a conversation). */
export const usersExistRoute = internalRoute({
  method: "POST",
  path: "/internal/users/exist",
  body: z.object({ ids: z.array(idSchema).min(1).max(500) }).strict(),
  query: undefined,
  response: z.object({ missing: z.array(idSchema) }),
});

/**
 * Load-test seeding: users `<prefix><n>` for n in [from, from+count), created when missing with
 * one bcrypt hash for all, each returned with a fresh session unless `sessions` is false.
 */
export const seedUsersRoute = internalRoute({
  method: "POST",
  path: "/internal/users/seed",
  body: z
    .object({
      prefix: z.string().regex(/^[a-z0-9_]{1,20}$/, "lowercase letters, digits and '_', up to 20"),
      from: z.number().int().min(0).default(0),
      count: z.number().int().min(1).max(5000),
      password: passwordSchema,
      /** Also start a session per user and return its tokens. @default true */
      sessions: z.boolean().default(true),
    })
    .strict(),
  query: undefined,
  response: z.object({
    users: z.array(z.object({ id: idSchema, username: z.string(), accessToken: z.string().optional(), refreshToken: z.string().optional() }).passthrough()),
  }),
});

/** A page of active users' ids, in directory order (the AutoMessage planner reads them all). */
export const activeUsersRoute = internalRoute({
  method: "GET",
  path: "/internal/users/active",
  body: undefined,
  query: z
    .object({
      limit: z.coerce.number().int().min(1).max(5000).default(5000),
      /** `nextCursor` of the previous page. */
      cursor: z.string().max(16).optional(),
    })
    .strict(),
  response: z.object({ ids: z.array(idSchema), nextCursor: z.string().nullable() }),
});

export const activeUsersQuerySchema = activeUsersRoute.query;
export type ActiveUsersResponse = z.infer<typeof activeUsersRoute.response>;
