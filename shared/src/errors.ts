/**
 * One error family for the whole cluster. Every error says what it is (`code`), how it
 * leaves over HTTP (`status`) and whether trying again can help (`retriable`); consumers
 * decide retry vs dead-letter from `retriable` alone.
 */
export interface AppErrorOptions {
  details?: unknown;
  cause?: unknown;
}

export class AppError extends Error {
  readonly code: string;
  readonly status: number;
  readonly retriable: boolean;
  readonly details: unknown;

  constructor(code: string, message: string, status: number, retriable: boolean, options: AppErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.status = status;
    this.retriable = retriable;
    this.details = options.details;
  }
}

export class ValidationError extends AppError {
  constructor(message: string, details?: unknown) {
    super("VALIDATION_FAILED", message, 400, false, { details });
  }
}

export class UnauthorizedError extends AppError {
  constructor(message = "Authentication required", code = "UNAUTHORIZED") {
    super(code, message, 401, false);
  }
}

export class ForbiddenError extends AppError {
  constructor(message = "Forbidden", code = "FORBIDDEN") {
    super(code, message, 403, false);
  }
}

export class NotFoundError extends AppError {
  constructor(message = "Not found", code = "NOT_FOUND") {
    super(code, message, 404, false);
  }
}

export class ConflictError extends AppError {
  constructor(message: string, details?: unknown, code = "CONFLICT") {
    super(code, message, 409, false, { details });
  }
}

export class PayloadTooLargeError extends AppError {
  constructor(message = "Payload too large") {
    super("PAYLOAD_TOO_LARGE", message, 413, false);
  }
}

export class RateLimitedError extends AppError {
  readonly retryAfterSeconds: number;
  constructor(retryAfterSeconds: number, message = "Too many requests") {
    super("RATE_LIMITED", message, 429, false, { details: { retryAfterSeconds } });
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** A dependency (Kafka, Mongo, Redis, RabbitMQ, another service) is unreachable or failing. */
export class DependencyError extends AppError {
  constructor(message: string, cause?: unknown) {
    super("DEPENDENCY_UNAVAILABLE", message, 503, true, { cause });
  }
}

/**
 * Kafka did not take a record in time (a leader election, a lost broker): nothing was
 * promised, so the caller may send the same thing again (sends are idempotent).
 */
export class UnavailableError extends AppError {
  constructor(message: string, cause?: unknown) {
    super("UNAVAILABLE", message, 503, true, { cause });
  }
}

export function isAppError(err: unknown): err is AppError {
  return err instanceof AppError;
}

/** The wire shape every HTTP error and every failed socket ack carries. */
export interface ErrorBody {
  code: string;
  message: string;
  details?: unknown;
}

/** Maps anything thrown to the public error shape; unknown errors never leak their message. */
export function toErrorBody(err: unknown): { status: number; body: ErrorBody } {
  if (isAppError(err)) {
    const body: ErrorBody = { code: err.code, message: err.message };
    if (err.details !== undefined) body.details = err.details;
    return { status: err.status, body };
  }
  return { status: 500, body: { code: "INTERNAL", message: "Internal error" } };
}
