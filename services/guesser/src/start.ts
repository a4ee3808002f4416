import { llmServiceEntry } from '@workemon/llm';
import { createApp, SERVICE_NAME } from './app.js';
import type { Config } from './config.js';
import { BUILT_IN_PROMPT } from './domain/context-prompt.js';
import { SERVICE_VERSION } from './version.js';

/** The guesser's logger and startService (wired and listening on config's HOST:PORT): main.ts and the tests use both. */
export const { serviceLogger, startService } = llmServiceEntry<Config>({
  service: SERVICE_NAME,
  version: SERVICE_VERSION,
  builtInPrompt: BUILT_IN_PROMPT,
  createApp,
});
