import { AppError } from '@workemon/errors';
import type { SecretaryClient } from '../clients/secretary-client.js';
import type { FeedbackRecord, FeedbackStore } from './ports.js';

export interface FeedbackInput {
  channel: 'email' | 'tg' | 'direct';
  username: string;
  exchange_id: string;
  verdict: 'helpful' | 'wrong';
  note?: string | undefined;
}

export interface FeedbackView {
  id: string;
  created_at: string;
  operator: string;
  channel: string;
  username: string;
  exchange_id: string;
  verdict: string;
  note: string | null;
  request: string;
  response: string | null;
  action: string | null;
  model: string | null;
  trace_id: string | null;
}

const view = (row: FeedbackRecord): FeedbackView => ({
  id: String(row.id),
  created_at: row.createdAt.toISOString(),
  operator: row.operator,
  channel: row.channel,
  username: row.username,
  exchange_id: String(row.exchangeId),
  verdict: row.verdict,
  note: row.note,
  request: row.request,
  response: row.response,
  action: row.action,
  model: row.model,
  trace_id: row.traceId,
});

/**
 * Operators judge AI answers. What was judged (request, answer, action, model) is copied from the
 * secretary — never taken from the browser — so the export is a faithful evaluation set.
 */
export class FeedbackUseCases {
  constructor(
    private readonly deps: {
      repository: FeedbackStore;
      secretary: SecretaryClient;
      onRecorded: (verdict: string) => void;
    },
  ) {}

  async record(operator: string, input: FeedbackInput): Promise<FeedbackView> {
    const conversation = await this.deps.secretary.conversation({
      channel: input.channel,
      username: input.username,
    });
    const exchange = conversation.entries.find((e) => e.kind === 'exchange' && e.id === input.exchange_id);
    if (!exchange || exchange.kind !== 'exchange')
      throw AppError.notFound(`No exchange ${input.exchange_id} in this conversation`);
    if (exchange.status !== 'completed')
      throw new AppError('UNPROCESSABLE', 'Only a completed AI answer can be judged');
    const row = await this.deps.repository.add({
      exchangeId: Number(exchange.id),
      channel: input.channel,
      username: input.username,
      verdict: input.verdict,
      note: input.note ? input.note : null,
      operator,
      request: exchange.analysed_request ?? exchange.text,
      response: exchange.action === 'уточнить' ? exchange.question : exchange.response,
      action: exchange.action,
      model: exchange.model,
      traceId: exchange.trace_id,
    });
    this.deps.onRecorded(input.verdict);
    return view(row);
  }

  async recent(limit: number): Promise<FeedbackView[]> {
    return (await this.deps.repository.recent(limit)).map(view);
  }

  /** One JSON object per line, oldest first, read in batches so a large export never sits in memory. */
  async *exportLines(): AsyncGenerator<string> {
    let after = 0;
    for (;;) {
      const batch = await this.deps.repository.batchAfter(after, 500);
      for (const row of batch) yield `${JSON.stringify(view(row))}\n`;
      const last = batch.at(-1);
      if (!last || batch.length < 500) return;
      after = last.id;
    }
  }
}
