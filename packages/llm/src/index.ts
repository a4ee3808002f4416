export * from './llm-client.js';
export * from './providers.js';
export * from './llm-config.js';
export * from './llm-service-deps.js';
export * from './llm-service.js';
