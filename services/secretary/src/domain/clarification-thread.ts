/**
 * The clarification thread is plain text with labelled, delimited parts so the
 * guesser sees which words are the user's original request, which are our
 * question and which are the answer.
 */
const DELIMITER = '\n---\n';

export function threadWithQuestion(analysedRequest: string, question: string, isFirstRound: boolean): string {
  const head = isFirstRound ? `Исходный запрос:\n${analysedRequest}` : analysedRequest;
  return `${head}${DELIMITER}Уточняющий вопрос:\n${question}`;
}

export function threadWithAnswer(thread: string, answer: string): string {
  return `${thread}${DELIMITER}Ответ пользователя:\n${answer}`;
}

export const ESCALATION_RESPONSE =
  'Не удалось автоматически уточнить ваш запрос. Мы передали его специалисту — он свяжется с вами в ближайшее время.';
