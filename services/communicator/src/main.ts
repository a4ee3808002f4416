import { loadConfig } from '@workemon/config';
import { exitOnStartupError, installGracefulShutdown } from '@workemon/http-kit';
import type { Logger } from '@workemon/logger';
import { configSchema } from './config.js';
import { serviceLogger, startService } from './start.js';

// The only place that reads the environment: config → startService → drain on SIGTERM.
let logger: Logger | undefined;
try {
  const config = loadConfig(configSchema);
  logger = serviceLogger(config);
  const service = await startService(config, { logger });
  installGracefulShutdown({ ...service, timeoutMs: config.SHUTDOWN_TIMEOUT_MS });
} catch (error) {
  exitOnStartupError(error, logger);
}
