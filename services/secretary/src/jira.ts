import type { ServiceMetrics } from '@workemon/http-kit';
import type { Logger } from '@workemon/logger';
import { JiraClient } from './clients/jira-client.js';
import type { Config } from './config.js';
import type { DatabaseHandle } from './data/db.js';
import { FollowUpRepository } from './data/follow-up-repository.js';
import { CreateJiraTaskUseCase } from './domain/create-jira-task-use-case.js';
import { FollowUpWorker, type FollowUpWorkerOptions } from './domain/follow-up-worker.js';
import { createFollowUpMetrics } from './follow-up-metrics.js';

export type JiraConfig = Pick<
  Config,
  | 'JIRA_BASE_URL'
  | 'JIRA_DEPLOYMENT'
  | 'JIRA_USER'
  | 'JIRA_API_TOKEN'
  | 'JIRA_PROJECT_KEY'
  | 'JIRA_ISSUE_TYPE'
  | 'JIRA_TIMEOUT_MS'
>;

export const DEFAULT_FOLLOW_UP_OPTIONS: FollowUpWorkerOptions = {
  maxAttempts: 10,
  retryBaseMs: 5_000,
  maxRetryDelayMs: 15 * 60_000,
  leaseMs: 60_000,
  sweepIntervalMs: 15_000,
};

/** `создать jira-task` files issues only when Jira is configured; otherwise nothing is created. */
export function createJiraFollowUps(
  config: JiraConfig,
  database: DatabaseHandle,
  metrics: ServiceMetrics,
  logger: Logger,
  options: Partial<FollowUpWorkerOptions> = {},
): { worker?: FollowUpWorker; close: () => Promise<void> } {
  const store = new FollowUpRepository(database.db);
  // Exported even without Jira, so dashboards and alerts always find the series.
  const followUpMetrics = createFollowUpMetrics(metrics.registry, () => store.pendingCounts());
  if (!config.JIRA_BASE_URL || !config.JIRA_API_TOKEN || !config.JIRA_PROJECT_KEY)
    return { close: async () => {} };
  const jira = new JiraClient({
    baseURL: config.JIRA_BASE_URL,
    deployment: config.JIRA_DEPLOYMENT,
    user: config.JIRA_USER,
    apiToken: config.JIRA_API_TOKEN,
    projectKey: config.JIRA_PROJECT_KEY,
    issueType: config.JIRA_ISSUE_TYPE,
    timeoutMs: config.JIRA_TIMEOUT_MS,
    metrics,
  });
  const worker = new FollowUpWorker({
    store,
    createJiraTask: new CreateJiraTaskUseCase(jira),
    metrics: followUpMetrics,
    logger,
    options: { ...DEFAULT_FOLLOW_UP_OPTIONS, ...options },
  });
  return {
    worker,
    close: async () => {
      await worker.stop();
      jira.close();
    },
  };
}
