import { loadConfig } from '@workemon/config';
import { runService } from '@workemon/http-kit';
import { configSchema } from './config.js';
import { serviceLogger, startService } from './start.js';

// The only place that reads the environment: config → startService → drain on SIGTERM.
await runService({ config: () => loadConfig(configSchema), logger: serviceLogger, start: startService });
