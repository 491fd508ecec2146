import { pino, stdSerializers, type Logger, type LoggerOptions } from "pino";

export type { Logger } from "pino";

export interface LoggerConfig {
  /** Service name put on every line. */
  name: string;
  /** pino level; tests default to "silent" so they stay quiet. @default "info" */
  level?: string;
}

/** Structured JSON logs on stdout; message text is constant, context goes in fields. */
export function createLogger({ name, level }: LoggerConfig): Logger {
  const options: LoggerOptions = {
    name,
    level: level ?? (process.env.VITEST ? "silent" : "info"),
    base: { service: name, pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    serializers: { err: stdSerializers.err },
  };
  return pino(options);
}
