import winston from 'winston';

export type Logger = winston.Logger;
export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** One JSON line per event with structured fields; callers pass `{zone, endpoints, added, removed, durationMs}`. */
export function createLogger(level: LogLevel = 'info'): Logger {
  return winston.createLogger({
    level,
    format: winston.format.combine(winston.format.timestamp(), winston.format.errors({ stack: false }), winston.format.json()),
    defaultMeta: { app: 'thanos-store-discovery' },
    transports: [new winston.transports.Console({ stderrLevels: [] })],
  });
}

/** A logger that drops everything, for tests that assert behaviour rather than log lines. */
export function createSilentLogger(): Logger {
  return winston.createLogger({ silent: true, transports: [new winston.transports.Console({ silent: true })] });
}

/**
 * The message and the chain of causes of an error, one line for a log field or an alert: only the first line of each
 * message is kept (a multi-line message carries detail, such as a response body, below its first line).
 */
export function describeError(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && current !== null && depth < 5; depth++) {
    // eslint-disable-next-line @typescript-eslint/no-base-to-string -- a thrown non-Error is described by its string form
    const message = current instanceof Error ? current.message : String(current);
    parts.push(message.split('\n', 1)[0] ?? '');
    current = current instanceof Error ? current.cause : undefined;
  }
  return parts.join(': caused by: ');
}
