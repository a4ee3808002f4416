/**
 * A failure that retrying cannot fix (the secretary rejected the input with a
 * 4xx, the SMTP server refused the recipient with a 5xx, Telegram says the chat
 * does not exist): the message is quarantined at once with this reason.
 */
export class PermanentFailure extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PermanentFailure';
  }
}

/** A failure worth retrying later; `retryAfterMs` overrides the backoff when the peer said how long. */
export class RetryableFailure extends Error {
  constructor(
    message: string,
    readonly retryAfterMs?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'RetryableFailure';
  }
}
