import { readFileSync } from 'node:fs';
import { renderEnvExample, z } from '@workemon/config';
import { describe, expect, it } from 'vitest';
import { configSchema as communicator } from '../services/communicator/src/config.js';
import { configSchema as operatorConsole } from '../services/console/src/config.js';
import { configSchema as guesser } from '../services/guesser/src/config.js';
import { configSchema as secretary } from '../services/secretary/src/config.js';
import { configSchema as systemAnalyst } from '../services/system-analyst/src/config.js';
// @ts-expect-error plain ESM script without types
import { ENV_EXAMPLES, envExamplePath } from '../scripts/env-examples.mjs';

const schemas: Record<string, z.ZodType> = {
  secretary,
  guesser,
  'system-analyst': systemAnalyst,
  communicator,
  console: operatorConsole,
};
const examples = ENV_EXAMPLES as { service: string; header: string[] }[];

describe('services/*/.env.example', () => {
  it.each(examples.map((e) => [e.service, e] as const))(
    'when %s config schema changes, then its .env.example is regenerated (run `pnpm env:example`)',
    (service, { header }) => {
      const schema = schemas[service];
      if (!schema) throw new Error(`no schema for ${service}`);
      const committed = readFileSync(envExamplePath(service) as string, 'utf8');
      expect(committed).toBe(renderEnvExample(schema, header));
    },
  );

  it('when a schema field has a default, an enum or no default, then the example shows the default, the choices and "required"', () => {
    const schema = z
      .object({
        PORT: z.coerce.number().default(8000),
        MODE: z.enum(['a', 'b']).default('a'),
        SECRET: z.string().optional(),
        DATABASE_URL: z.string().min(1),
        FLAG: z
          .enum(['true', 'false'])
          .default('true')
          .transform((v) => v === 'true'),
      })
      .transform((c) => c);
    expect(renderEnvExample(schema, ['header'])).toBe(
      [
        '# header',
        '# Generated from the service config schema by `pnpm env:example`; do not edit by hand.',
        '',
        'PORT=8000',
        '# MODE: one of: a, b',
        'MODE=a',
        'SECRET=',
        '# DATABASE_URL: required',
        'DATABASE_URL=',
        '# FLAG: one of: true, false',
        'FLAG=true',
        '',
      ].join('\n'),
    );
  });
});
