import { databaseHealthCheck, type HealthRegistry } from '@workemon/http-kit';
import type { SecretaryClient } from './clients/secretary-client.js';
import type { DatabaseHandle } from './data/db.js';
import type { EmailChannel } from './email.js';
import type { TelegramChannel } from './telegram.js';

/**
 * What /health reports: only the database is critical (without it nothing is recorded); a channel
 * or the secretary being away degrades the service, since the ledger keeps the work until they return.
 */
export function registerHealthChecks(
  health: HealthRegistry,
  parts: {
    database: DatabaseHandle;
    email: EmailChannel | undefined;
    telegram: TelegramChannel | undefined;
    secretary: SecretaryClient;
  },
): void {
  const { database, email, telegram, secretary } = parts;
  health.register(databaseHealthCheck(database));
  health.register({
    name: 'imap',
    run: () => email?.inbox.health() ?? { status: 'disabled', detail: 'IMAP_USER/IMAP_PASSWORD not set' },
  });
  health.register({
    name: 'smtp',
    run: async () => {
      if (!email) return { status: 'disabled', detail: 'no SMTP credentials' };
      const result = await email.mailer.verify();
      return result.ok ? { status: 'ok' } : { status: 'degraded', detail: result.detail ?? 'verify failed' };
    },
  });
  health.register({
    name: 'telegram',
    run: () => telegram?.health() ?? { status: 'disabled', detail: 'TELEGRAM_BOT_TOKEN not set' },
  });
  health.register({
    name: 'secretary',
    run: async () => {
      const ping = await secretary.ping();
      return ping.ok
        ? { status: 'ok' }
        : { status: 'degraded', detail: ping.detail ?? `HTTP ${ping.status}` };
    },
  });
}
