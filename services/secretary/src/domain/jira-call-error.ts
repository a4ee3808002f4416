/** A failed Jira call, classified: only what may succeed later is retried. */
export class JiraCallError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    /** From Retry-After on 429/503. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'JiraCallError';
  }
}
