import { idSchema, z } from "../zod.ts";
import { publicUserSchema } from "./auth.ts";

export const userListQuerySchema = z
  .object({
    limit: z.coerce.number().int().min(1).max(100).default(20),
    /** Opaque cursor from the previous page's `nextCursor`. */
    cursor: z.string().max(64).optional(),
  })
  .strict()
  .openapi("UserListQuery");

export const listedUserSchema = publicUserSchema.extend({ online: z.boolean() }).openapi("ListedUser");

export const userListResponseSchema = z
  .object({ users: z.array(listedUserSchema), nextCursor: z.string().nullable() })
  .openapi("UserList");

export const onlineUsersResponseSchema = z
  .object({ count: z.number().int(), userIds: z.array(idSchema) })
  .openapi("OnlineUsers");

export const userOnlineResponseSchema = z.object({ userId: idSchema, online: z.boolean() }).openapi("UserOnline");

export const userIdParamsSchema = z.object({ id: idSchema }).strict();

export type UserListQuery = z.infer<typeof userListQuerySchema>;
