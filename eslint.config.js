import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const SERVICES = ['secretary', 'guesser', 'system-analyst', 'communicator', 'console'];
const serviceNames = SERVICES.join('|');

/** Import boundaries (docs/architecture.md, "Inside a service"), checked on the import string. */
const otherService = {
  regex: `^(@workemon/(${serviceNames})$|(\\.\\./){2,}(${serviceNames})/)`,
  message: 'a service never imports another service: call it over HTTP through a typed client in src/clients',
};
const intoServices = {
  regex: `^(@workemon/(${serviceNames})$|(\\.\\./)+services/)`,
  message: 'packages/ hold infrastructure and contracts only and never import a service',
};
const domainInfrastructure = {
  regex: '^(express|pg|drizzle-orm|axios|undici)(/.*)?$',
  message:
    'the domain does not touch HTTP, SQL or a driver: take a port (interface) and let start.ts (startService) hand in the implementation',
};
// Not even `import type`: the domain owns its ports and record shapes (domain/ports.ts), data/ implements them.
const domainData = {
  regex: '(^|/)data/',
  message:
    'the domain does not know data/, not even its types: declare a port (interface) in domain/ that the repository implements, and let start.ts (startService) hand it in',
};

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', '.data/**', 'coverage/**', '**/*.d.ts'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'error',
    },
  },
  {
    // Type-aware rules: a promise nobody awaits (or handed to a callback that ignores it) loses its
    // error. Each package's tsconfig.json covers its src and test.
    files: ['packages/*/{src,test}/**/*.ts', 'services/*/{src,test}/**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
    },
  },
  {
    files: ['services/*/src/**/*.ts'],
    rules: { '@typescript-eslint/no-restricted-imports': ['error', { patterns: [otherService] }] },
  },
  {
    files: ['services/*/src/domain/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        { patterns: [otherService, domainInfrastructure, domainData] },
      ],
    },
  },
  {
    files: ['packages/**/*.ts'],
    rules: { '@typescript-eslint/no-restricted-imports': ['error', { patterns: [intoServices] }] },
  },
  {
    // Scripts, benchmarks and test harnesses talk to a human on the terminal.
    files: ['bench/**', 'scripts/**', '**/test/**', 'packages/launcher/**', '**/*.mjs', '**/*.cjs'],
    rules: { 'no-console': 'off' },
  },
  {
    files: ['**/*.mjs', '**/*.cjs', '**/*.js'],
    languageOptions: { globals: { ...globals.node } },
  },
);
