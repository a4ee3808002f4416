import type { Channel } from '@workemon/contracts';
import type { FollowUpHandler, JiraIssueRef, JiraPort, JiraTaskPayload } from './ports.js';

export interface JiraTaskSource {
  channel: Channel;
  username: string;
  displayName: string;
  department: string;
  request: string;
  analysis: string;
  traceId: string | undefined;
  conversationId: string | null;
  /** Unique per exchange (a UUID): becomes the issue's idempotency label. */
  exchangeUid: string;
}

const SUMMARY_MAX = 250;
const DESCRIPTION_MAX = 30_000;

/** What the issue says: who asked, what, and the analyst's reading. Pure, so it is stored as is. */
export function jiraTaskPayload(source: JiraTaskSource): JiraTaskPayload {
  // Jira rejects a summary with line breaks or over 255 characters.
  const firstLine = source.request.split(/\r?\n/).find((l) => l.trim() !== '') ?? source.request;
  const summary = oneLine(`${source.displayName}: ${firstLine}`, SUMMARY_MAX);
  const description = [
    `Обращение от ${wikiText(source.displayName)} (${wikiText(source.username)}), департамент: ${wikiText(source.department)}, канал: ${source.channel}.`,
    '',
    'Запрос:',
    noformat(source.request),
    '',
    'Анализ:',
    noformat(source.analysis),
    '',
    `Workemon: trace.id ${source.traceId ?? '—'}${source.conversationId ? `, диалог ${source.conversationId}` : ''}`,
  ].join('\n');
  return {
    summary,
    description:
      description.length > DESCRIPTION_MAX ? `${description.slice(0, DESCRIPTION_MAX)}…` : description,
    label: `workemon-${source.exchangeUid}`,
  };
}

/**
 * User text and the model's analysis are shown verbatim: inside {noformat} nothing but a closing
 * {noformat} is markup, and Jira reads macro names in any case ({NoFormat}), so every spelling is broken up.
 */
function noformat(text: string): string {
  const body = text.length > 12_000 ? `${text.slice(0, 12_000)}…` : text;
  return `{noformat}\n${body.replace(/\{(noformat)/gi, '{ $1')}\n{noformat}`;
}

/** A name inside a wiki-markup line: one line, every markup character escaped. */
function wikiText(text: string): string {
  return oneLine(text, 300).replace(/[\\{}[\]*_+^~|!#?-]/g, '\\$&');
}

function oneLine(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/**
 * Files the issue once: a retry after an interrupted attempt (the issue created, the answer
 * lost) finds it by the exchange's label instead of filing a second one.
 */
export class CreateJiraTaskUseCase implements FollowUpHandler {
  readonly noun = 'jira issue';

  constructor(private readonly jira: JiraPort) {}

  async run(payload: Record<string, unknown>, attempt: number) {
    const { issue, existing } = await this.execute(payload as unknown as JiraTaskPayload, attempt === 1);
    return {
      result: { key: issue.key, url: issue.url },
      outcome: existing ? ('found_existing' as const) : ('created' as const),
      summary: `${issue.key} ${existing ? 'found (filed by an earlier attempt)' : 'created'}`,
    };
  }

  async execute(
    payload: JiraTaskPayload,
    firstAttempt: boolean,
  ): Promise<{ issue: JiraIssueRef; existing: boolean }> {
    if (!firstAttempt) {
      const existing = await this.jira.findByLabel(payload.label);
      if (existing) return { issue: existing, existing: true };
    }
    const issue = await this.jira.createIssue({
      summary: payload.summary,
      description: payload.description,
      labels: ['workemon', payload.label],
    });
    return { issue, existing: false };
  }
}
