import {
  InboundPageSchema,
  InboundRetryResultSchema,
  type InboundListQuery,
  type SendMessageInput,
  SendMessageResultSchema,
} from '@workemon/contracts';
import { OperatorUpstream, type UpstreamOptions } from './upstream-client.js';

/** The communicator's /send and its ingest ledger (GET /inbound, POST /inbound/{id}/retry). */
export class CommunicatorClient {
  readonly upstream: OperatorUpstream;

  constructor(options: UpstreamOptions) {
    this.upstream = new OperatorUpstream('communicator', options);
  }

  send(message: SendMessageInput) {
    return this.upstream.call('POST', '/send', SendMessageResultSchema, { body: message });
  }

  inbound(query: Partial<InboundListQuery>) {
    const params = Object.fromEntries(
      Object.entries(query)
        .filter((e): e is [string, string | number] => e[1] !== undefined)
        .map(([k, v]) => [k, String(v)]),
    );
    return this.upstream.call('GET', '/inbound', InboundPageSchema, { query: params });
  }

  retry(id: number) {
    return this.upstream.call('POST', `/inbound/${id}/retry`, InboundRetryResultSchema);
  }

  close(): Promise<void> {
    return this.upstream.close();
  }
}
