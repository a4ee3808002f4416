import { ACTION_REPLY_EMAIL, ACTION_REPLY_MESSAGE, type Action, type Channel } from '@workemon/contracts';

export const ACTION_JIRA_TASK: Action = 'создать jira-task';
export const ACTION_DEPARTMENT_MAIL: Action = 'написать в рассылку департамента';

/** How the request is answered when nobody proposes anything better. */
export function channelDefaultAction(channel: Channel): Action {
  return channel === 'email' ? ACTION_REPLY_EMAIL : ACTION_REPLY_MESSAGE;
}

/** Actions the analyst may choose besides the channel's reply; `уточнить` is never one (the guesser owns it). */
const ANALYST_ACTIONS: ReadonlySet<Action> = new Set<Action>([
  ACTION_JIRA_TASK,
  ACTION_DEPARTMENT_MAIL,
  'написать в telegram сотруднику',
]);

/** The analyst's proposal when policy allows it on this channel, else the channel default. */
export function chooseAction(channel: Channel, proposed: Action | undefined): Action {
  const fallback = channelDefaultAction(channel);
  if (proposed === undefined) return fallback;
  return proposed === fallback || ANALYST_ACTIONS.has(proposed) ? proposed : fallback;
}
