import { type SendMessageInput, type SendMessageResult, SendMessageResultSchema } from '@workemon/contracts';
import { ServiceClient } from '@workemon/http-kit';
import type { NotifierPort } from '../domain/ports.js';
import type { UpstreamClientOptions } from './guesser-client.js';

/** ai-communicator: POST /send (idempotent by key, so a retried notification is never sent twice). */
export class CommunicatorClient implements NotifierPort {
  readonly client: ServiceClient;

  constructor(options: UpstreamClientOptions) {
    this.client = new ServiceClient({ target: 'communicator', ...options });
  }

  send(message: SendMessageInput): Promise<SendMessageResult> {
    return this.client.post('/send', message, SendMessageResultSchema);
  }

  close(): Promise<void> {
    return this.client.close();
  }
}
