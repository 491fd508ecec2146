import type { z } from "zod";
import { ValidationError } from "../errors.ts";

export interface FieldProblem {
  field: string;
  message: string;
}

/** Parses untrusted input or throws a 400 listing every field problem. */
export function validate<S extends z.ZodTypeAny>(schema: S, input: unknown, where = "body"): z.infer<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const fields: FieldProblem[] = result.error.issues.map((issue) => ({
    field: issue.path.join(".") || where,
    message: issue.message,
  }));
  throw new ValidationError(`Invalid ${where}`, { fields });
}
