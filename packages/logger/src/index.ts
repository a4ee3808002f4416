import { AsyncLocalStorage } from 'node:async_hooks';
import { writeSync } from 'node:fs';
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

/**
 * Log lines written during one turn of the event loop leave in one write. On Linux a write to a
 * pipe or a file is a synchronous syscall per call: with one line per request it cost the LLM
 * services a tenth of their CPU. Lines still buffered when the process exits are written
 * synchronously on 'exit', so none is lost to process.exit().
 */
export class CoalescingWriter extends Writable {
  private pending: string[] = [];
  private pendingBytes = 0;
  private scheduled = false;

  constructor(
    private readonly target: { write(chunk: string): unknown },
    private readonly fd?: number,
    /** Flush at once beyond this many buffered characters. */
    private readonly maxPending = 256 * 1024,
  ) {
    super({ decodeStrings: false });
    if (fd !== undefined) process.once('exit', () => this.flushSync());
  }

  override _write(chunk: Buffer | string, _enc: BufferEncoding, cb: (error?: Error | null) => void): void {
    const text = typeof chunk === 'string' ? chunk : chunk.toString('utf8');
    this.pending.push(text);
    this.pendingBytes += text.length;
    if (this.pendingBytes >= this.maxPending) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
    cb();
  }

  override _final(cb: (error?: Error | null) => void): void {
    this.flush();
    cb();
  }

  flush(): void {
    this.scheduled = false;
    if (this.pending.length === 0) return;
    const text = this.pending.join('');
    this.pending = [];
    this.pendingBytes = 0;
    this.target.write(text);
  }

  /** For 'exit': no more event-loop turns, so the rest goes out with a blocking write. */
  flushSync(): void {
    if (this.pending.length === 0 || this.fd === undefined) return;
    const text = this.pending.join('');
    this.pending = [];
    this.pendingBytes = 0;
    writeSync(this.fd, text);
  }
}

let stdoutWriter: CoalescingWriter | undefined;

export function createLogger(options: CreateLoggerOptions): Logger {
  const stream = options.stream ?? (stdoutWriter ??= new CoalescingWriter(process.stdout, 1));
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
