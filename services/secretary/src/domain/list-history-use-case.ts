import type { HistoryPage, HistoryQuery } from '@workemon/contracts';
import type { ExchangeStorePort } from './ports.js';

/** Past exchanges, newest first, filtered by user and channel. */
export class ListHistoryUseCase {
  constructor(private readonly store: ExchangeStorePort) {}

  execute(query: HistoryQuery): Promise<HistoryPage> {
    return this.store.history(query);
  }
}
