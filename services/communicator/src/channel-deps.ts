import type { Logger } from '@workemon/logger';
import type { CheckpointRepository } from './data/checkpoint-repository.js';
import type { InboundLedgerRepository } from './data/inbound-ledger-repository.js';
import type { CommunicatorMetrics } from './metrics.js';

/** What an inbound channel (email.ts, telegram.ts) is wired with: it records into the ledger and wakes the dispatcher. */
export interface ChannelDeps {
  ledger: InboundLedgerRepository;
  checkpoints: CheckpointRepository;
  metrics: CommunicatorMetrics;
  logger: Logger;
  onNewWork: () => void;
}
