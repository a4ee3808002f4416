export * from './fake-llm.js';
export * from './postgres.js';
export * from './ports.js';
export * from './dovecot.js';
export * from './smtp-sink.js';
export * from './fake-telegram.js';
export * from './fake-jira.js';
export * from './own-postgres.js';
