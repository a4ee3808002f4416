import type { AnalysisResponse, AnalyzeRequestInput } from '@workemon/contracts';
import { chooseAction } from './action-policy.js';

/** A conversation an operator took over keeps the person's messages for them (no LLM, no automatic reply). */
export interface OperatorHoldPort {
  /** True when the message was kept for an operator (the analysis must not run). */
  holdIfTakenOver(message: HeldMessage): Promise<boolean>;
  /** The same once a read said the conversation is taken over: checked again under a lock. */
  hold(message: HeldMessage): Promise<boolean>;
}

export interface HeldMessage {
  channel: string;
  username: string;
  messageId: string | undefined;
  text: string;
  traceId: string | undefined;
}

export function heldMessage(input: AnalyzeRequestInput) {
  return {
    channel: input.channel,
    username: input.username,
    messageId: input.message_id,
    text: input.request,
  };
}

/** The answer for a held message: nothing to say to the person; the communicator sends nothing. */
export function heldResponse(input: AnalyzeRequestInput): AnalysisResponse {
  return {
    is_enough: false,
    request: input.request,
    action: chooseAction(input.channel, undefined),
    question: '',
    response: '',
    held_for_operator: true,
  };
}
