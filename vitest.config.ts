import { defineConfig } from 'vitest/config';

const conditions = ['source', 'module', 'node', 'development|production'];

// Workspace packages export their TypeScript sources under the "source" condition,
// so tests run against src without a build step.
export default defineConfig({
  resolve: { conditions: conditions },
  ssr: { resolve: { conditions: conditions } },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'services/*/test/**/*.test.ts', 'test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: ['default'],
  },
});
