import type { InboundItem, InboundListQuery, InboundPage, InboundRetryResult } from '@workemon/contracts';
import { AppError } from '@workemon/errors';
import { decodeIdCursor, idPage } from '@workemon/http-kit';
import type { Logger } from '@workemon/logger';
import type { InboundMessage, InboundOperatorLedger } from './ledger-ports.js';

const RETRYABLE = new Set(['quarantined', 'skipped']);
const INBOUND_CURSOR = 'i';

/**
 * What support and ops do with the ingest ledger: see what was skipped or quarantined and why,
 * and send a message through again once its cause is fixed (or a skip was a false positive).
 */
export class InboundOperatorUseCases {
  constructor(
    private readonly deps: { ledger: InboundOperatorLedger; logger: Logger; onRequeued: () => void },
  ) {}

  async list(query: InboundListQuery): Promise<InboundPage> {
    const rows = await this.deps.ledger.list({
      status: query.status,
      channel: query.channel,
      beforeId: query.cursor ? decodeIdCursor(INBOUND_CURSOR, query.cursor) : undefined,
      limit: query.limit + 1,
    });
    const { page, next_cursor } = idPage(rows, query.limit, INBOUND_CURSOR, (r) => r.id);
    return { items: page.map(toItem), next_cursor };
  }

  async retry(id: number): Promise<InboundRetryResult> {
    const { ledger, logger } = this.deps;
    const row = await ledger.findById(id);
    if (!row) throw AppError.notFound(`No inbound message with id ${id}`);
    if (!RETRYABLE.has(row.status)) {
      throw new AppError(
        'CONFLICT',
        `Inbound message ${id} is '${row.status}': only quarantined or skipped messages can be retried`,
      );
    }
    const requeued = await ledger.requeue(id, 'retried by an operator');
    if (!requeued) throw new AppError('CONFLICT', `Inbound message ${id} changed meanwhile; look again`);
    logger.info(`inbound message ${id} requeued by an operator (was ${row.status})`, {
      event: { action: 'inbound-retry' },
      'communicator.inbound_id': id,
    });
    this.deps.onRequeued();
    return { id: String(id), status: 'received', previous_status: row.status, previous_error: row.lastError };
  }
}

function toItem(row: InboundMessage): InboundItem {
  return {
    id: String(row.id),
    channel: row.channel,
    external_id: row.externalId,
    username: row.username,
    subject: row.subject,
    status: row.status,
    attempts: row.attempts,
    last_error: row.lastError,
    request_text: row.requestText.length > 500 ? `${row.requestText.slice(0, 500)}…` : row.requestText,
    raw_headers: row.rawHeaders,
    received_at: row.receivedAt.toISOString(),
    answered_at: row.answeredAt?.toISOString() ?? null,
    replied_at: row.repliedAt?.toISOString() ?? null,
  };
}
