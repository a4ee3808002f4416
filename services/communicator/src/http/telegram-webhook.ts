import { createHash, timingSafeEqual } from 'node:crypto';
import type { Logger } from '@workemon/logger';
import express, { Router } from 'express';
import type { Update } from 'telegraf/types';

export const TELEGRAM_WEBHOOK_PATH = '/telegram/webhook';

const digest = (value: string) => createHash('sha256').update(value).digest();

/**
 * Telegram webhook: authenticated by the secret token Telegram echoes in
 * X-Telegram-Bot-Api-Secret-Token (not by our bearer keys, which Telegram
 * does not have). The update is in the ledger before we answer 200; a failure
 * answers 500 and Telegram redelivers.
 */
export function telegramWebhookRouter(deps: {
  secretToken: string | undefined;
  record: (update: Update) => Promise<void>;
  logger: Logger;
}): Router {
  const router = Router();
  const expected = deps.secretToken ? digest(deps.secretToken) : undefined;
  router.post(TELEGRAM_WEBHOOK_PATH, express.json({ limit: '1mb' }), async (req, res) => {
    if (expected) {
      const presented = req.headers['x-telegram-bot-api-secret-token'];
      if (typeof presented !== 'string' || !timingSafeEqual(digest(presented), expected)) {
        res
          .status(401)
          .json({ error: 'Unauthorized', message: 'Invalid webhook secret token', statusCode: 401 });
        return;
      }
    }
    const update = req.body as Update | undefined;
    if (!update || typeof update !== 'object' || typeof update.update_id !== 'number') {
      res
        .status(400)
        .json({ error: 'Bad Request', message: 'Body is not a Telegram update', statusCode: 400 });
      return;
    }
    try {
      await deps.record(update);
      res.json({ ok: true });
    } catch (error) {
      deps.logger.error(`webhook update ${update.update_id} not recorded: ${(error as Error).message}`);
      res
        .status(500)
        .json({ error: 'Internal Server Error', message: 'Update not recorded', statusCode: 500 });
    }
  });
  return router;
}
