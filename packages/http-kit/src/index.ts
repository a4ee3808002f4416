export * from './app.js';
export * from './auth.js';
export * from './health.js';
export * from './http-client.js';
export * from './input.js';
export * from './metrics.js';
export * from './openapi.js';
export * from './server.js';
