import { AsyncLocalStorage } from 'node:async_hooks';
import { writeSync } from 'node:fs';
import { Writable } from 'node:stream';
import { stringify } from 'safe-stable-stringify';

/** npm's levels, as LOG_LEVEL names them: a line is written when its level is at or above the logger's. */
const LEVELS = { error: 0, warn: 1, info: 2, http: 3, verbose: 4, debug: 5, silly: 6 } as const;
export type LogLevel = keyof typeof LEVELS;

/** What a call site adds to a line: ECS fields (`event`, `http`, `trace.id`, …) and `err` for an Error. */
export type LogFields = Record<string, unknown>;
type LogMethod = (message: string, fields?: LogFields) => void;

export interface Logger {
  readonly level: LogLevel;
  isLevelEnabled(level: LogLevel): boolean;
  log(level: LogLevel, message: string, fields?: LogFields): void;
  error: LogMethod;
  warn: LogMethod;
  info: LogMethod;
  http: LogMethod;
  verbose: LogMethod;
  debug: LogMethod;
  silly: LogMethod;
}

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
  // Nearly every text holds none of the four patterns: one test instead of four replaces.
  if (!MAY_HOLD_SECRET.test(text)) return text;
  return text
    .replace(/\nparams: [\s\S]*?(?=\n {4}at |$)/g, '\n(query parameters omitted)')
    .replace(/(Bearer\s+)[A-Za-z0-9._~+/=-]+/gi, `$1${REDACTED}`)
    .replace(/\/bot\d+:[A-Za-z0-9_-]+/g, `/bot${REDACTED}`)
    .replace(/(\w+:\/\/[^:/\s@]+:)[^@\s/]+@/g, `$1${REDACTED}@`);
}

/** What each pattern of redactText needs to match at all. */
const MAY_HOLD_SECRET = /\nparams: |bearer\s|\/bot\d|:\/\//i;

/**
 * A field value as JSON with secrets redacted, in one pass: strings through redactText, values under
 * a secret-looking key replaced, objects to depth 6 written as their own enumerable entries with
 * sorted keys, a repeated object as "[Circular]"; an Error or anything deeper as it is. `undefined`
 * for what JSON leaves out (undefined, functions, symbols).
 */
function redactedJson(value: unknown, depth: number, seen: Set<object>): string | undefined {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(redactText(value));
    case 'number':
      return Number.isFinite(value) ? String(value) : 'null';
    case 'boolean':
    case 'bigint':
      return String(value);
    case 'object':
      break;
    default:
      return undefined;
  }
  if (value === null) return 'null';
  if (depth > 6 || value instanceof Error) return stringify(value);
  if (seen.has(value)) return '"[Circular]"';
  seen.add(value);
  if (Array.isArray(value)) {
    let out = '';
    for (let i = 0; i < value.length; i++)
      out += `${i === 0 ? '' : ','}${redactedJson(value[i], depth + 1, seen) ?? 'null'}`;
    return `[${out}]`;
  }
  // An own toJSON was copied along with the entries, and safe-stable-stringify then called it.
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function' && Object.hasOwn(value, 'toJSON'))
    return stringify(value);
  // Visited in insertion order (which repeat of an object is "[Circular]"), written in key order.
  const entries: [string, string][] = [];
  for (const key of Object.keys(value)) {
    const v = (value as Record<string, unknown>)[key];
    const json =
      SECRET_KEY.test(key) && v !== undefined && v !== null
        ? REDACTED_JSON
        : redactedJson(v, depth + 1, seen);
    if (json !== undefined) entries.push([key, json]);
  }
  return objectJson(entries);
}

const REDACTED_JSON = JSON.stringify(REDACTED);

/** `{"key":value,…}` in the order of the keys' UTF-16 code units (safe-stable-stringify's order). */
function objectJson(entries: [string, string][]): string {
  // Insertion sort: a line's objects have a handful of keys, and Array#sort allocates for each call.
  if (entries.length > 200) entries.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  else
    for (let i = 1; i < entries.length; i++) {
      const entry = entries[i]!;
      let j = i;
      for (; j > 0 && entries[j - 1]![0] > entry[0]; j--) entries[j] = entries[j - 1]!;
      entries[j] = entry;
    }
  let out = '';
  for (let i = 0; i < entries.length; i++) {
    const [key, json] = entries[i]!;
    out += `${i === 0 ? '' : ','}${JSON.stringify(key)}:${json}`;
  }
  return `{${out}}`;
}

export interface CreateLoggerOptions {
  service: string;
  version: string;
  level?: LogLevel;
  environment?: string;
  /** Where lines go; stdout by default. Tests pass a capturing stream. */
  stream?: NodeJS.WritableStream;
}

/** The version of the ECS logging spec the lines follow (what @elastic/ecs-winston-format wrote). */
const ECS_VERSION = '8.10.0';

/**
 * One ECS JSON line per call, written synchronously: the fields winston with ecs-winston-format wrote
 * (sorted keys, `err` as `error.*`, service fields, `trace.id` from the request context, secrets
 * redacted), without winston's object-mode streams, and nothing at all for a level that is off
 * (winston formatted every debug line before its transport dropped it).
 */
class EcsLogger implements Logger {
  readonly level: LogLevel;
  private readonly threshold: number;
  private readonly stream: { write(chunk: string): unknown };
  /** service.name, service.version, service.environment and event.dataset, as JSON once. */
  private readonly serviceEntries: [string, string][];

  constructor(options: CreateLoggerOptions) {
    this.level = options.level ?? 'info';
    this.threshold = LEVELS[this.level];
    this.stream = options.stream ?? (stdoutWriter ??= new CoalescingWriter(process.stdout, 1));
    const service: [string, string | undefined][] = [
      ['service.name', options.service],
      ['service.version', options.version],
      ['service.environment', options.environment],
      ['event.dataset', options.service],
    ];
    this.serviceEntries = service.flatMap(([key, value]) => (value ? [[key, JSON.stringify(value)]] : []));
  }

  isLevelEnabled(level: LogLevel): boolean {
    return LEVELS[level] <= this.threshold;
  }

  log(level: LogLevel, message: string, fields?: LogFields): void {
    if (LEVELS[level] > this.threshold) return;
    this.stream.write(`${this.line(level, message, fields)}\n`);
  }

  error(message: string, fields?: LogFields): void {
    this.log('error', message, fields);
  }
  warn(message: string, fields?: LogFields): void {
    this.log('warn', message, fields);
  }
  info(message: string, fields?: LogFields): void {
    this.log('info', message, fields);
  }
  http(message: string, fields?: LogFields): void {
    this.log('http', message, fields);
  }
  verbose(message: string, fields?: LogFields): void {
    this.log('verbose', message, fields);
  }
  debug(message: string, fields?: LogFields): void {
    this.log('debug', message, fields);
  }
  silly(message: string, fields?: LogFields): void {
    this.log('silly', message, fields);
  }

  private line(level: LogLevel, message: string, fields: LogFields | undefined): string {
    const entries: [string, string][] = [];
    let traced = false;
    if (fields) {
      // Secrets never reach a line, whatever the call site passed; `err` and `error` are written as
      // given, an Error in `err` as ECS `error.*` fields.
      const seen = new Set<object>();
      const err = fields.err instanceof Error ? fields.err : undefined;
      for (const key of Object.keys(fields)) {
        // As winston did: a `message` field is appended to the message, a `level` field never written.
        if (key === 'message' || key === 'level' || (err && (key === 'err' || key === 'error'))) continue;
        const value = fields[key];
        if (key === 'trace.id' && value !== undefined) traced = true;
        const json =
          key === 'err' || key === 'error'
            ? stringify(value)
            : SECRET_KEY.test(key) && value !== undefined
              ? REDACTED_JSON
              : redactedJson(value, 0, seen);
        if (json !== undefined) entries.push([key, json]);
      }
      if (err) entries.push(['error', errorJson(err)]);
      if (fields.message) message = `${message} ${String(fields.message)}`;
    }
    const requestId = traced ? undefined : currentRequestId();
    if (requestId) entries.push(['trace.id', JSON.stringify(redactText(requestId))]);
    entries.push(
      ['message', JSON.stringify(redactText(message))],
      ['@timestamp', `"${new Date().toISOString()}"`],
      ['log.level', `"${level}"`],
      ['ecs.version', `"${ECS_VERSION}"`],
      ...this.serviceEntries,
    );
    return objectJson(entries);
  }
}

/** An Error as ECS `error.*` fields: its own enumerable fields, type, message, stack and cause. */
function errorJson(err: Error): string {
  const error: Record<string, unknown> = { ...err };
  error.type = typeof err.constructor === 'function' ? err.constructor.name : err.name;
  error.message = err.message;
  error.stack_trace = err.stack;
  const cause: unknown = err.cause;
  if (cause) error.cause = cause instanceof Error ? cause.stack : String(cause);
  return stringify(error);
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
    /** The blocking write of flushSync (tests replace it). */
    private readonly writeFd: SyncWrite = writeSync,
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
    writeAllSync(this.fd, Buffer.from(text), this.writeFd);
  }
}

type SyncWrite = (fd: number, buffer: Buffer, offset: number, length: number) => number;

/**
 * stdout is a non-blocking pipe when a parent process reads it: a full pipe answers EAGAIN and a
 * write may take only part of the text (a bare writeSync then threw at exit, losing the lines with
 * a stack trace). Retried every 5 ms for up to 2 s; any other error (the reader is gone) ends it.
 */
function writeAllSync(fd: number, bytes: Buffer, write: SyncWrite): void {
  const deadline = Date.now() + 2_000;
  let offset = 0;
  while (offset < bytes.length) {
    try {
      offset += write(fd, bytes, offset, bytes.length - offset);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EAGAIN' || Date.now() > deadline) return;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
    }
  }
}

let stdoutWriter: CoalescingWriter | undefined;

export function createLogger(options: CreateLoggerOptions): Logger {
  return new EcsLogger(options);
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
