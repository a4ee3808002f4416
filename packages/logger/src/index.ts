import { AsyncLocalStorage } from 'node:async_hooks';
import { Writable } from 'node:stream';
import { ecsFormat } from '@elastic/ecs-winston-format';
import winston from 'winston';

export type Logger = winston.Logger;

export interface RequestContext {
  requestId: string;
}

/** Carries the request id across async hops so every log line of a request has `trace.id`. */
export const requestContext = new AsyncLocalStorage<RequestContext>();

export function currentRequestId(): string | undefined {
  return requestContext.getStore()?.requestId;
}

export function runWithRequestId<T>(requestId: string, fn: () => T): T {
  return requestContext.run({ requestId }, fn);
}

const SECRET_KEY = /(pass(word)?|secret|token|api[-_]?key|authorization|cookie|credential|private[-_]?key)/i;
const REDACTED = '[REDACTED]';

/**
 * Masks secrets that appear inside free text (bearer tokens, Telegram bot tokens in URLs, passwords in
 * DSNs) and the values of a failed query: drizzle's message ends with `params: <every value>`
 * (request texts, usernames); the SQL itself is parameterised and stays.
 */
export function redactText(text: string): string {
  return text
    .replace(/\nparams: [\s\S]*?(?=\n {4}at |$)/g, '\n(query parameters omitted)')
    .replace(/(Bearer\s+)[A-Za-z0-9._~+/=-]+/gi, `$1${REDACTED}`)
    .replace(/\/bot\d+:[A-Za-z0-9_-]+/g, `/bot${REDACTED}`)
    .replace(/(\w+:\/\/[^:/\s@]+:)[^@\s/]+@/g, `$1${REDACTED}@`);
}

function redactValue(value: unknown, depth: number, seen: WeakSet<object>): unknown {
  if (typeof value === 'string') return redactText(value);
  if (value === null || typeof value !== 'object' || depth > 6) return value;
  if (value instanceof Error) return value;
  if (seen.has(value)) return '[Circular]';
  seen.add(value);
  if (Array.isArray(value)) return value.map((v) => redactValue(v, depth + 1, seen));
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    out[key] =
      SECRET_KEY.test(key) && v !== undefined && v !== null ? REDACTED : redactValue(v, depth + 1, seen);
  }
  return out;
}

/** Winston format: secrets never reach a log line, whatever the call site passed. */
const redactFormat = winston.format((info) => {
  const seen = new WeakSet<object>();
  for (const key of Object.keys(info)) {
    if (key === 'level' || key === 'err' || key === 'error') continue;
    const value = info[key];
    info[key] = SECRET_KEY.test(key) && value !== undefined ? REDACTED : redactValue(value, 0, seen);
  }
  if (typeof info.message === 'string') info.message = redactText(info.message);
  return info;
});

const traceFormat = winston.format((info) => {
  const requestId = currentRequestId();
  if (requestId && info['trace.id'] === undefined) info['trace.id'] = requestId;
  return info;
});

export interface CreateLoggerOptions {
  service: string;
  version: string;
  level?: string;
  environment?: string;
  /** Where lines go; stdout by default. Tests pass a capturing stream. */
  stream?: NodeJS.WritableStream;
}

export function createLogger(options: CreateLoggerOptions): Logger {
  const stream = options.stream ?? process.stdout;
  return winston.createLogger({
    level: options.level ?? 'info',
    format: winston.format.combine(
      traceFormat(),
      redactFormat(),
      ecsFormat({
        apmIntegration: false,
        convertReqRes: false,
        serviceName: options.service,
        serviceVersion: options.version,
        ...(options.environment ? { serviceEnvironment: options.environment } : {}),
      }),
    ),
    transports: [new winston.transports.Stream({ stream })],
    exitOnError: false,
  });
}

/** A stream that keeps every line written, for tests that assert on log output. */
export class CapturedLines extends Writable {
  readonly lines: string[] = [];
  private partial = '';
  override _write(chunk: Buffer | string, _enc: BufferEncoding, cb: (error?: Error | null) => void): void {
    const text = this.partial + chunk.toString();
    const parts = text.split('\n');
    this.partial = parts.pop() ?? '';
    for (const p of parts) if (p.trim()) this.lines.push(p);
    cb();
  }
  records(): Record<string, unknown>[] {
    return this.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  }
}

/** Shortens user text for logs: full texts live in the database, not in log pipelines. */
export function truncateForLog(text: string, max = 200): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length} chars)`;
}
