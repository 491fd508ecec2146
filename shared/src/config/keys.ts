import { readFileSync } from "node:fs";
import { z } from "zod";

/**
 * A PEM key from `<NAME>` (inline, `\n` allowed) or `<NAME>_FILE` (a path). Returns a zod
 * object schema fragment and a resolver, so a missing or unreadable key is one of the
 * problems listed at boot instead of a crash later.
 */
export function pemKeyEnv<N extends string>(name: N) {
  return z
    .object({ [name]: z.string().optional(), [`${name}_FILE`]: z.string().optional() } as Record<N | `${N}_FILE`, z.ZodOptional<z.ZodString>>)
    .transform((env, ctx) => {
      const inline = (env as Record<string, string | undefined>)[name];
      const file = (env as Record<string, string | undefined>)[`${name}_FILE`];
      let pem: string | undefined;
      if (inline) pem = inline.replace(/\\n/g, "\n");
      else if (file) {
        try {
          pem = readFileSync(file, "utf8");
        } catch (err) {
          ctx.addIssue({ code: z.ZodIssueCode.custom, path: [`${name}_FILE`], message: `cannot read ${file}: ${(err as Error).message}` });
          return z.NEVER;
        }
      }
      if (!pem || !pem.includes("-----BEGIN")) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, path: [name], message: `set ${name} (PEM) or ${name}_FILE (path to a PEM file)` });
        return z.NEVER;
      }
      return { [name]: pem } as Record<N, string>;
    });
}
