/** Ports the console's domain owns; data/ implements them (data/feedback-repository.ts, data/session-repository.ts). */

/** An operator's verdict on one AI answer, with a copy of what was judged. */
export interface FeedbackRecord {
  id: number;
  exchangeId: number;
  channel: string;
  username: string;
  verdict: string;
  note: string | null;
  operator: string;
  request: string;
  response: string | null;
  action: string | null;
  model: string | null;
  traceId: string | null;
  createdAt: Date;
}

export type NewFeedbackRecord = Omit<FeedbackRecord, 'id' | 'createdAt'>;

export interface FeedbackStore {
  add(record: NewFeedbackRecord): Promise<FeedbackRecord>;
  /** Newest first. */
  recent(limit: number): Promise<FeedbackRecord[]>;
  /** Oldest first, the records after `afterId` (the export reads them in batches). */
  batchAfter(afterId: number, limit: number): Promise<FeedbackRecord[]>;
}

export interface StoredSession {
  operator: string;
  csrfToken: string;
  expiresAt: Date;
}

/** Sessions by token hash, and the sign-in failures that lock an operator out for a while. */
export interface SessionStore {
  create(tokenHash: string, session: StoredSession): Promise<void>;
  /** The live session for a token hash (and touches it); undefined when unknown or expired. */
  find(tokenHash: string, now: Date): Promise<StoredSession | undefined>;
  delete(tokenHash: string): Promise<void>;
  lockedUntil(name: string, now: Date): Promise<Date | undefined>;
  recordFailure(name: string, maxFailures: number, lockUntil: Date): Promise<{ locked: boolean }>;
  clearFailures(name: string): Promise<void>;
}
