import { idSchema, z } from "../zod.ts";

/** `GET /internal/users/active` (auth): a page of active users' ids, in directory order. */
export const activeUsersQuerySchema = z
  .object({
    limit: z.coerce.number().int().min(1).max(5000).default(5000),
    /** `nextCursor` of the previous page. */
    cursor: z.string().max(16).optional(),
  })
  .strict();

export const activeUsersResponseSchema = z.object({ ids: z.array(idSchema), nextCursor: z.string().nullable() });

export type ActiveUsersQuery = z.infer<typeof activeUsersQuerySchema>;
export type ActiveUsersResponse = z.infer<typeof activeUsersResponseSchema>;
