import { randomUUID } from 'node:crypto';
import type { ServiceMetrics } from '@workemon/http-kit';
import type { Logger } from '@workemon/logger';
import { CommunicatorClient } from './clients/communicator-client.js';
import type { UpstreamClientOptions } from './clients/guesser-client.js';
import { JiraClient } from './clients/jira-client.js';
import type { Config } from './config.js';
import type { DatabaseHandle } from './data/db.js';
import { FollowUpRepository } from './data/follow-up-repository.js';
import { CreateJiraTaskUseCase } from './domain/create-jira-task-use-case.js';
import { FollowUpWorker, type FollowUpWorkerOptions } from './domain/follow-up-worker.js';
import { SendThroughCommunicatorHandler } from './domain/notify-through-communicator.js';
import type { FollowUpHandler, FollowUpKind, FollowUpPolicy } from './domain/ports.js';
import { createFollowUpMetrics } from './follow-up-metrics.js';

export type FollowUpConfig = Pick<
  Config,
  | 'JIRA_BASE_URL'
  | 'JIRA_DEPLOYMENT'
  | 'JIRA_USER'
  | 'JIRA_API_TOKEN'
  | 'JIRA_PROJECT_KEY'
  | 'JIRA_ISSUE_TYPE'
  | 'JIRA_TIMEOUT_MS'
  | 'ESCALATION_TELEGRAM_CHAT_ID'
  | 'DEPARTMENT_MAILING_LISTS'
  | 'COMMUNICATOR_URL'
  | 'HEARTBEAT_INTERVAL_MS'
  | 'OWNER_TIMEOUT_MS'
>;

export const DEFAULT_FOLLOW_UP_OPTIONS: Omit<FollowUpWorkerOptions, 'leaseMs' | 'heartbeatMs' | 'owner'> = {
  maxAttempts: 10,
  retryBaseMs: 5_000,
  maxRetryDelayMs: 15 * 60_000,
  sweepIntervalMs: 15_000,
};

export interface FollowUps {
  /** Absent when no follow-up is configured. */
  worker?: FollowUpWorker;
  /** What the worker's handlers do, for the use case that stores the work. */
  policy: FollowUpPolicy;
  close: () => Promise<void>;
}

/**
 * Jira issues (`создать jira-task`) when JIRA_* is set, escalations to the support chat
 * (`написать в telegram сотруднику`) when ESCALATION_TELEGRAM_CHAT_ID is set, department mail
 * (`написать в рассылку департамента`) when DEPARTMENT_MAILING_LISTS is set; otherwise nothing runs.
 */
export function createFollowUps(
  config: FollowUpConfig,
  database: DatabaseHandle,
  upstream: Omit<UpstreamClientOptions, 'baseURL'>,
  metrics: ServiceMetrics,
  logger: Logger,
  options: Partial<FollowUpWorkerOptions> = {},
): FollowUps {
  const store = new FollowUpRepository(database.db);
  // Exported even with nothing configured, so dashboards and alerts always find the series.
  const followUpMetrics = createFollowUpMetrics(metrics.registry, () => store.pendingCounts());
  const handlers: Partial<Record<FollowUpKind, FollowUpHandler>> = {};
  const closers: (() => Promise<void>)[] = [];

  if (config.JIRA_BASE_URL && config.JIRA_API_TOKEN && config.JIRA_PROJECT_KEY) {
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
    handlers['jira-task'] = new CreateJiraTaskUseCase(jira);
    closers.push(() => jira.close());
  }
  const departmentLists = config.DEPARTMENT_MAILING_LISTS;
  const mailsDepartments = Object.keys(departmentLists).length > 0;
  if (config.ESCALATION_TELEGRAM_CHAT_ID || mailsDepartments) {
    // Both go out through the communicator's POST /send.
    const communicator = new CommunicatorClient({ baseURL: config.COMMUNICATOR_URL, ...upstream });
    if (config.ESCALATION_TELEGRAM_CHAT_ID)
      handlers.escalation = new SendThroughCommunicatorHandler(communicator, 'escalation');
    if (mailsDepartments)
      handlers['department-mail'] = new SendThroughCommunicatorHandler(communicator, 'department mail');
    closers.push(() => communicator.close());
  }
  const policy: FollowUpPolicy = {
    fileJiraIssues: handlers['jira-task'] !== undefined,
    ...(config.ESCALATION_TELEGRAM_CHAT_ID ? { escalationChatId: config.ESCALATION_TELEGRAM_CHAT_ID } : {}),
    ...(mailsDepartments ? { departmentLists } : {}),
  };
  if (Object.keys(handlers).length === 0) return { policy, close: async () => {} };

  const worker = new FollowUpWorker({
    store,
    handlers,
    metrics: followUpMetrics,
    logger,
    options: {
      ...DEFAULT_FOLLOW_UP_OPTIONS,
      leaseMs: config.OWNER_TIMEOUT_MS,
      heartbeatMs: config.HEARTBEAT_INTERVAL_MS,
      owner: `secretary-${randomUUID()}`,
      ...options,
    },
  });
  return {
    worker,
    policy,
    close: async () => {
      await worker.stop();
      for (const close of closers) await close();
    },
  };
}
