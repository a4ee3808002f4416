export interface FailureOptions {
  cause?: unknown;
  /**
   * Set by a channel client when the peer itself answered with the error
   * (SMTP reply code, Telegram API error): the send certainly did not happen.
   * A dropped connection leaves it unset: the send may have happened.
   */
  notSent?: boolean;
}

/**
 * A failure that retrying cannot fix (the secretary rejected the input with a
 * 4xx, the SMTP server refused the recipient with a 5xx, Telegram says the chat
 * does not exist): the message is quarantined at once with this reason.
 */
export class PermanentFailure extends Error {
  /** The peer answered with this error, so nothing was sent (see FailureOptions). */
  readonly notSent: boolean;
  constructor(message: string, options?: FailureOptions) {
    super(message, options);
    this.name = 'PermanentFailure';
    this.notSent = options?.notSent ?? false;
  }
}

/**
 * A definitive failure of this message that a later attempt might still get
 * past (the secretary answered 500 about it): it counts one attempt, and the
 * message is quarantined when it has used them all.
 */
export class MessageFailure extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MessageFailure';
  }
}

/**
 * An outage, not the message's fault (a peer down, refused, reset, timed out,
 * 502/503/504, a rate limit): retried with backoff for as long as the retry
 * window allows, never counted as an attempt. `retryAfterMs` overrides the
 * backoff when the peer said how long.
 */
export class RetryableFailure extends Error {
  readonly notSent: boolean;
  constructor(
    message: string,
    readonly retryAfterMs?: number,
    options?: FailureOptions,
  ) {
    super(message, options);
    this.name = 'RetryableFailure';
    this.notSent = options?.notSent ?? false;
  }
}

/** True when a send failed with the channel's own refusal: proof that nothing went out. */
export function provedNotSent(error: unknown): boolean {
  return (error instanceof PermanentFailure || error instanceof RetryableFailure) && error.notSent;
}

/**
 * The row was taken over by another worker while this one still ran (it
 * missed its heartbeats): whatever it was doing is abandoned, nothing is sent.
 */
export class OwnershipLost extends Error {
  constructor(id: number) {
    super(`row ${id} is no longer ours (taken over after missed heartbeats)`);
    this.name = 'OwnershipLost';
  }
}
