export * from './embedded-postgres.js';
export * from './mesh.js';
export * from './runtime.js';
