import { queryRows, waitFor } from '@workemon/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enoughContext } from './support/fake-upstream.js';
import { type SecretaryHarness, startSecretaryHarness, uniqueUsername } from './support/secretary.js';

describe('secretary admission limit (ANALYZE_MAX_IN_FLIGHT)', () => {
  let harness: SecretaryHarness;

  beforeAll(async () => {
    harness = await startSecretaryHarness({
      databasePrefix: 'secretary_admission',
      env: { ANALYZE_MAX_IN_FLIGHT: '2', UPSTREAM_TIMEOUT_MS: '5000' },
    });
  });
  afterAll(async () => {
    await harness?.close();
  });

  it('when more requests arrive than may be in flight, then the extra one gets 503 + Retry-After before any database or LLM work, and the limit frees up afterwards', async () => {
    const { secretary, guesser, db } = harness;
    // The first two requests sit in the guesser long enough for the third to arrive meanwhile.
    guesser.enqueue({ ...enoughContext(), delayMs: 4_000 }, { ...enoughContext(), delayMs: 4_000 });
    const request = 'Нужна аналитика по кошелькам';
    const held = [uniqueUsername('held'), uniqueUsername('held')].map((username) =>
      secretary.analyze({ channel: 'direct', username, request }),
    );
    await waitFor(async () => guesser.calls.length === 2, 10_000, 20);

    const shedUser = uniqueUsername('shed');
    const shed = await secretary.analyze({ channel: 'direct', username: shedUser, request });
    expect(shed.status).toBe(503);
    expect(shed.headers.get('retry-after')).toBe('1');
    expect(String(shed.body.message)).toContain('in flight');
    expect(guesser.calls).toHaveLength(2); // no LLM service was called for it
    const rows = await queryRows(db.url, 'select id from secretary.requests where username = $1', [shedUser]);
    expect(rows).toHaveLength(0); // and nothing was written

    for (const answer of await Promise.all(held)) expect(answer.status).toBe(200);
    const after = await secretary.analyze({ channel: 'direct', username: shedUser, request });
    expect(after.status).toBe(200);
  });
});
