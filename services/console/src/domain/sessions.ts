import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { AppError } from '@workemon/errors';
import type { Operator } from '../config.js';
import { hashPassword, verifyPassword } from './passwords.js';
import type { SessionStore } from './ports.js';

export interface SignedIn {
  name: string;
  role: Operator['role'];
  csrfToken: string;
}

export interface SessionPolicy {
  ttlMs: number;
  maxFailures: number;
  lockoutMs: number;
}

export interface SignInMetrics {
  signIn(outcome: 'success' | 'wrong_password' | 'locked'): void;
}

const tokenHash = (token: string) => createHash('sha256').update(token).digest('hex');

/**
 * Sign-in, sessions and lock-out. Operators come from configuration; a wrong name costs the same
 * argon2 verification as a wrong password (no timing tells which names exist) and counts toward
 * that name's lock-out alike.
 */
export class SessionUseCases {
  private readonly operators: Map<string, Operator>;
  private decoyHash: Promise<string> | undefined;

  constructor(
    private readonly deps: {
      operators: readonly Operator[];
      repository: SessionStore;
      policy: SessionPolicy;
      metrics: SignInMetrics;
      clock?: () => Date;
    },
  ) {
    this.operators = new Map(deps.operators.map((o) => [o.name, o]));
  }

  private now(): Date {
    return this.deps.clock?.() ?? new Date();
  }

  async signIn(
    name: string,
    password: string,
  ): Promise<{ token: string; session: SignedIn; expiresAt: Date }> {
    const { repository, policy, metrics } = this.deps;
    const now = this.now();
    const locked = await repository.lockedUntil(name, now);
    if (locked) {
      metrics.signIn('locked');
      throw tooManyFailures(locked, now);
    }
    const operator = this.operators.get(name);
    const ok = await verifyPassword(operator?.password_hash ?? (await this.decoy()), password);
    if (!operator || !ok) {
      const lockUntil = new Date(now.getTime() + policy.lockoutMs);
      const { locked: nowLocked } = await repository.recordFailure(name, policy.maxFailures, lockUntil);
      metrics.signIn(nowLocked ? 'locked' : 'wrong_password');
      if (nowLocked) throw tooManyFailures(lockUntil, now);
      throw AppError.unauthorized('Wrong name or password');
    }
    await repository.clearFailures(name);
    const token = randomBytes(32).toString('base64url');
    const csrfToken = randomBytes(32).toString('base64url');
    const expiresAt = new Date(now.getTime() + policy.ttlMs);
    await repository.create(tokenHash(token), { operator: operator.name, csrfToken, expiresAt });
    metrics.signIn('success');
    return { token, session: { name: operator.name, role: operator.role, csrfToken }, expiresAt };
  }

  /** The session a cookie token stands for; undefined when unknown, expired, or the operator was removed. */
  async resolve(token: string | undefined): Promise<SignedIn | undefined> {
    if (!token || token.length > 200) return undefined;
    const stored = await this.deps.repository.find(tokenHash(token), this.now());
    const operator = stored ? this.operators.get(stored.operator) : undefined;
    if (!stored || !operator) return undefined;
    return { name: operator.name, role: operator.role, csrfToken: stored.csrfToken };
  }

  async signOut(token: string): Promise<void> {
    await this.deps.repository.delete(tokenHash(token));
  }

  /** Double-submit check: the header must carry this session's CSRF token. */
  checkCsrf(session: SignedIn, presented: string | undefined): void {
    const expected = Buffer.from(session.csrfToken);
    const given = Buffer.from(presented ?? '');
    if (given.length !== expected.length || !timingSafeEqual(given, expected))
      throw new AppError(
        'FORBIDDEN',
        'Missing or wrong X-CSRF-Token header: reload the page and sign in again',
      );
  }

  private decoy(): Promise<string> {
    return (this.decoyHash ??= hashPassword(randomBytes(16).toString('hex')));
  }
}

function tooManyFailures(until: Date, now: Date): AppError {
  const seconds = Math.max(1, Math.ceil((until.getTime() - now.getTime()) / 1000));
  return new AppError(
    'TOO_MANY_REQUESTS',
    `Too many failed sign-ins: try again in ${Math.ceil(seconds / 60)} min`,
    {
      retryAfterSeconds: seconds,
    },
  );
}
