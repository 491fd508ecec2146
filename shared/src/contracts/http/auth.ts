import { cleanText, idSchema, isoDateTime, z } from "../zod.ts";

export const usernameSchema = z
  .string()
  .trim()
  .min(3)
  .max(32)
  .regex(/^[A-Za-z0-9_.-]+$/, "letters, digits, '.', '_' and '-' only")
  .openapi({ example: "alice" });

export const emailSchema = z.string().trim().toLowerCase().max(254).email().openapi({ example: "alice@example.com" });

export const passwordSchema = z.string().min(8).max(128).openapi({ example: "correct horse battery" });

export const registerRequestSchema = z
  .object({ username: usernameSchema, email: emailSchema, password: passwordSchema })
  .strict()
  .openapi("RegisterRequest");

export const loginRequestSchema = z
  .object({
    login: z.string().trim().min(1).max(254).openapi({ description: "email or username", example: "alice" }),
    password: z.string().min(1).max(128),
  })
  .strict()
  .openapi("LoginRequest");

export const refreshRequestSchema = z
  .object({ refreshToken: z.string().min(10).max(512) })
  .strict()
  .openapi("RefreshRequest");

export const profileUpdateSchema = z
  .object({
    displayName: cleanText(1, 64).optional(),
    bio: cleanText(0, 500, true).optional(),
    avatarUrl: z
      .string()
      .trim()
      .max(2048)
      .url()
      .refine((v) => /^https?:\/\//i.test(v), "must be an http(s) URL")
      .nullable()
      .optional(),
  })
  .strict()
  .refine((v) => Object.keys(v).length > 0, "at least one field is required")
  .openapi("ProfileUpdate");

export const publicUserSchema = z
  .object({
    id: idSchema,
    username: z.string(),
    displayName: z.string(),
    bio: z.string(),
    avatarUrl: z.string().nullable(),
    createdAt: isoDateTime(),
  })
  .openapi("User");

export const selfUserSchema = publicUserSchema.extend({ email: z.string() }).openapi("SelfUser");

export const authResultSchema = z
  .object({
    user: selfUserSchema,
    accessToken: z.string(),
    refreshToken: z.string(),
    expiresIn: z.number().int().openapi({ description: "access token lifetime in seconds" }),
  })
  .openapi("AuthResult");

export const tokenPairSchema = authResultSchema.omit({ user: true }).openapi("TokenPair");

export type RegisterRequest = z.infer<typeof registerRequestSchema>;
export type LoginRequest = z.infer<typeof loginRequestSchema>;
export type ProfileUpdate = z.infer<typeof profileUpdateSchema>;
export type PublicUser = z.infer<typeof publicUserSchema>;
export type SelfUser = z.infer<typeof selfUserSchema>;
