import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadConfig, z } from '@workemon/config';
import { createServiceMetrics } from '@workemon/http-kit';
import { createLogger } from '@workemon/logger';
import { configSchema } from './config.js';
import { createDatabase } from './data/db.js';
import { createKnowledge } from './knowledge.js';

// `node dist/knowledge-sync.js [dir]`: synchronises a knowledge directory into DATABASE_URL and exits
// (non-zero when a file failed). Without an argument: KNOWLEDGE_DIR, or the example pack.
const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  version: string;
};
// Only what a sync needs: the job has none of the service's other settings.
const { shape } = configSchema;
const config = loadConfig(
  z.object({
    DATABASE_URL: shape.DATABASE_URL,
    LOG_LEVEL: shape.LOG_LEVEL,
    KNOWLEDGE_DIR: shape.KNOWLEDGE_DIR,
    KNOWLEDGE_MAX_DOCUMENT_CHARS: shape.KNOWLEDGE_MAX_DOCUMENT_CHARS,
    KNOWLEDGE_MIN_SCORE: shape.KNOWLEDGE_MIN_SCORE,
    KNOWLEDGE_PASSAGES: shape.KNOWLEDGE_PASSAGES,
  }),
);
const logger = createLogger({ service: 'ai-secretary', version, level: config.LOG_LEVEL });
const database = createDatabase({ url: config.DATABASE_URL, max: 1, logger });
try {
  const knowledge = createKnowledge(config, database, createServiceMetrics('ai-secretary', version), logger);
  const directory = process.argv[2] ? resolve(process.argv[2]) : knowledge.directory;
  const report = await knowledge.useCases.syncDirectory(directory);
  process.exitCode = report.failed.length > 0 ? 1 : 0;
} catch (error) {
  logger.error(`knowledge sync failed: ${(error as Error).message}`, { err: error as Error });
  process.exitCode = 1;
} finally {
  await database.close();
}
