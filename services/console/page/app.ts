/**
 * The operator console page: vanilla DOM, hash routes, every text set through textContent (no
 * HTML from data). The server holds the session (HttpOnly cookie); the page holds only the CSRF
 * token it got at sign-in, sent as X-CSRF-Token on every write.
 */

import type {
  ConversationSummary as Summary,
  ConversationView,
  FollowUpView as FollowUp,
  InboundItem,
  ThreadEntry as Entry,
} from '@workemon/contracts';

type Child = Node | string | null | undefined | false;
type Attrs = Record<string, string | boolean | undefined | ((event: Event) => void)>;

interface Session {
  name: string;
  role: 'operator' | 'admin';
  csrf_token: string;
}

const STATES: Record<string, string> = {
  in_progress: 'ИИ отвечает',
  answered: 'отвечено',
  awaiting_clarification: 'ждём уточнения',
  escalated: 'эскалация',
  failed: 'сбой',
  taken_over: 'у оператора',
  resolved: 'решено',
};
const CHANNELS: Record<string, string> = { email: 'почта', tg: 'Telegram', direct: 'API' };
const FOLLOW_UPS: Record<string, string> = {
  'jira-task': 'задача в Jira',
  escalation: 'эскалация в чат поддержки',
  'department-mail': 'письмо в рассылку департамента',
};

let session: Session | undefined;
let events: EventSource | undefined;
/** The current view's refresh, called when the server says the inbox changed. */
let refreshView: (() => Promise<void>) | undefined;

interface TypingEvent {
  channel: string;
  username: string;
  operator: string;
}
/** The open conversation's "who is typing" line, when a conversation is open. */
let onTyping: ((event: TypingEvent) => void) | undefined;

// ---- tiny DOM helpers -------------------------------------------------------------

function h(tag: string, attrs: Attrs = {}, ...children: Child[]): HTMLElement {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    if (typeof value === 'function') el.addEventListener(key.replace(/^on/, ''), value);
    else if (value === true) el.setAttribute(key, '');
    else el.setAttribute(key, value);
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    el.append(typeof child === 'string' ? document.createTextNode(child) : child);
  }
  return el;
}

const main = () => document.getElementById('main') as HTMLElement;

function show(title: string, ...content: Child[]): void {
  const heading = h('h1', { tabindex: '-1' }, title);
  main().replaceChildren(heading, ...content.filter((c): c is Node | string => Boolean(c)));
  document.title = `${title} — Workemon`;
}

function announce(text: string): void {
  const live = document.getElementById('live');
  if (!live) return;
  live.textContent = text;
  window.setTimeout(() => {
    if (live.textContent === text) live.textContent = '';
  }, 4000);
}

const time = (iso: string | null) =>
  iso ? new Date(iso).toLocaleString('ru-RU', { dateStyle: 'short', timeStyle: 'short' }) : '—';

function stateBadge(state: string): HTMLElement {
  return h('span', { class: `state state-${state}` }, STATES[state] ?? state);
}

const conversationHref = (c: { channel: string; username: string }) =>
  `#/c/${encodeURIComponent(c.channel)}/${encodeURIComponent(c.username)}`;

const personName = (c: { display_name: string | null; username: string }) =>
  c.display_name ? `${c.display_name} (${c.username})` : c.username;

// ---- API --------------------------------------------------------------------------

class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && session) headers['x-csrf-token'] = session.csrf_token;
  const res = await fetch(path, {
    method,
    headers,
    credentials: 'same-origin',
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  if (res.status === 401 && path !== '/api/session') {
    signedOut();
    throw new ApiError(401, 'Сессия истекла: войдите снова');
  }
  const text = await res.text();
  const data = text ? (JSON.parse(text) as unknown) : undefined;
  if (!res.ok) {
    const message = (data as { message?: string } | undefined)?.message ?? `Ошибка ${res.status}`;
    throw new ApiError(res.status, message);
  }
  return data as T;
}

/**
 * The API speaks English (it is also an API for scripts); operators read Russian. Known answers are
 * said in Russian, anything else keeps the server's words after a Russian lead.
 */
const RUSSIAN: [RegExp, (m: RegExpExecArray) => string][] = [
  [/taken over by '([^']*)'/, (m) => `Разговор ведёт ${m[1] ?? ''}`],
  [
    /Too many failed sign-ins: try again in (\d+) min/,
    (m) => `Слишком много неудачных попыток входа: подождите ${m[1] ?? ''} мин`,
  ],
  [/X-CSRF-Token/, () => 'Сессия устарела: обновите страницу и войдите снова'],
  [/^No conversation with/, () => 'Такого разговора нет'],
  [
    /only quarantined or skipped messages can be retried/,
    () => 'Повторить можно только сообщения из карантина или пропущенные',
  ],
  [/changed meanwhile/, () => 'Сообщение тем временем изменилось: обновите страницу'],
  [/belongs to another conversation/, () => 'Этот ответ уже отправлен в другом разговоре'],
  [/Parameter '([^']+)'/, (m) => `Неверное значение поля «${m[1] ?? ''}»`],
];

function errorText(error: unknown): string {
  if (error instanceof ApiError) {
    for (const [pattern, say] of RUSSIAN) {
      const m = pattern.exec(error.message);
      if (m) return say(m);
    }
    if (error.status === 409) return `Не получилось: ${error.message}`;
    if (error.status >= 500) return `Сервис недоступен, попробуйте позже (${error.message})`;
    return `Ошибка: ${error.message}`;
  }
  return error instanceof Error ? error.message : String(error);
}

function errorBox(error: unknown): HTMLElement {
  return h('p', { class: 'error', role: 'alert' }, errorText(error));
}

// ---- sign-in ----------------------------------------------------------------------

function signedOut(): void {
  session = undefined;
  events?.close();
  events = undefined;
  (document.getElementById('top') as HTMLElement).hidden = true;
  renderSignIn();
}

function renderSignIn(message?: string): void {
  const error = h('p', { class: 'error', role: 'alert', id: 'sign-in-error' }, message ?? '');
  const form = h(
    'form',
    { class: 'card', novalidate: true, 'aria-labelledby': 'sign-in-title' },
    h('h1', { id: 'sign-in-title', tabindex: '-1' }, 'Вход в консоль'),
    h(
      'div',
      { class: 'field' },
      h('label', { for: 'name' }, 'Имя оператора'),
      h('input', { id: 'name', name: 'name', autocomplete: 'username', required: true }),
    ),
    h(
      'div',
      { class: 'field' },
      h('label', { for: 'password' }, 'Пароль'),
      h('input', {
        id: 'password',
        name: 'password',
        type: 'password',
        autocomplete: 'current-password',
        required: true,
      }),
    ),
    error,
    h('button', { type: 'submit' }, 'Войти'),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const name = (form.querySelector('#name') as HTMLInputElement).value.trim();
    const password = (form.querySelector('#password') as HTMLInputElement).value;
    if (!name || !password) {
      error.textContent = 'Введите имя и пароль';
      return;
    }
    void api<Session>('POST', '/api/session', { name, password })
      .then((s) => {
        session = s;
        started();
      })
      .catch((e: unknown) => {
        error.textContent =
          e instanceof ApiError && e.status === 401 ? 'Неверное имя или пароль' : errorText(e);
        (form.querySelector('#password') as HTMLInputElement).focus();
      });
  });
  main().replaceChildren(form);
  document.title = 'Вход — Workemon';
  (form.querySelector('#name') as HTMLInputElement).focus();
}

function started(): void {
  if (!session) return;
  const top = document.getElementById('top') as HTMLElement;
  top.hidden = false;
  (document.getElementById('who') as HTMLElement).textContent =
    `${session.name} · ${session.role === 'admin' ? 'администратор' : 'оператор'}`;
  for (const el of document.querySelectorAll<HTMLElement>('[data-admin]'))
    el.hidden = session.role !== 'admin';
  listen();
  void refreshIngestBadge();
  if (!location.hash || location.hash === '#/') location.hash = '#/inbox';
  else void route();
}

function listen(): void {
  events?.close();
  events = new EventSource('/api/events');
  events.addEventListener('inbox', () => {
    void refreshView?.();
    void refreshIngestBadge();
  });
  events.addEventListener('typing', (event) => {
    onTyping?.(JSON.parse((event as MessageEvent<string>).data) as TypingEvent);
  });
  events.addEventListener('status', (event) => {
    const { upstream } = JSON.parse((event as MessageEvent<string>).data) as { upstream: string };
    announce(
      upstream === 'ok' ? 'Связь с сервисами восстановлена' : 'Сервисы недоступны: обновления приостановлены',
    );
  });
}

async function refreshIngestBadge(): Promise<void> {
  const badge = document.getElementById('ingest-badge');
  if (!badge) return;
  try {
    const counts = await api<{ quarantined: number; quarantined_more: boolean }>('GET', '/api/ingest/counts');
    badge.hidden = counts.quarantined === 0;
    badge.textContent = `${counts.quarantined}${counts.quarantined_more ? '+' : ''}`;
    badge.setAttribute('aria-label', `в карантине: ${badge.textContent}`);
  } catch {
    badge.hidden = true;
  }
}

// ---- inbox ------------------------------------------------------------------------

interface InboxFilters {
  state: string;
  channel: string;
  q: string;
}
const filters: InboxFilters = { state: '', channel: '', q: '' };

function summaryRow(c: Summary): HTMLElement {
  const who = [
    c.department,
    c.taken_over_by ? `ведёт ${c.taken_over_by}` : c.assigned_to ? `назначено: ${c.assigned_to}` : null,
  ]
    .filter(Boolean)
    .join(' · ');
  return h(
    'li',
    {},
    h(
      'a',
      { class: 'row', href: conversationHref(c), 'data-conversation': `${c.channel}:${c.username}` },
      h(
        'span',
        {},
        h('span', { class: 'person' }, personName(c)),
        h('br'),
        h('span', { class: 'meta' }, `${CHANNELS[c.channel] ?? c.channel}${who ? ` · ${who}` : ''}`),
      ),
      h(
        'span',
        { class: 'text' },
        c.last_author === 'operator' ? 'Оператор: ' : c.last_author === 'ai' ? 'ИИ ответил на: ' : '',
        c.last_text,
      ),
      h('span', {}, stateBadge(c.state), h('br'), h('span', { class: 'meta' }, time(c.last_at))),
    ),
  );
}

function select(
  id: string,
  label: string,
  options: Record<string, string>,
  value: string,
  onChange: (v: string) => void,
) {
  const el = h(
    'select',
    { id, onchange: (e) => onChange((e.target as HTMLSelectElement).value) },
    h('option', { value: '' }, 'все'),
    ...Object.entries(options).map(([v, text]) => h('option', { value: v, selected: v === value }, text)),
  );
  return h('div', {}, h('label', { for: id }, label), el);
}

async function renderInbox(): Promise<void> {
  const list = h('ul', { class: 'list', id: 'inbox-list', 'aria-label': 'Разговоры' });
  const more = h('div', {});
  const status = h('p', { class: 'hint', role: 'status' });
  let cursor: string | null = null;

  const load = async (append: boolean) => {
    const params = new URLSearchParams({ limit: '50' });
    if (filters.state) params.set('state', filters.state);
    if (filters.channel) params.set('channel', filters.channel);
    if (filters.q) params.set('q', filters.q);
    if (append && cursor) params.set('cursor', cursor);
    try {
      const page = await api<{ items: Summary[]; next_cursor: string | null }>(
        'GET',
        `/api/conversations?${params}`,
      );
      // A live refresh replaces the rows; an operator moving through them with the keyboard keeps
      // their place instead of being thrown back to the top of the page.
      const focused = list.contains(document.activeElement)
        ? document.activeElement?.getAttribute('data-conversation')
        : null;
      if (!append) list.replaceChildren();
      list.append(...page.items.map(summaryRow));
      if (focused)
        Array.from(list.querySelectorAll<HTMLElement>('[data-conversation]'))
          .find((row) => row.getAttribute('data-conversation') === focused)
          ?.focus();
      cursor = page.next_cursor;
      status.textContent = list.children.length === 0 ? 'Разговоров нет' : '';
      more.replaceChildren(
        cursor
          ? h(
              'button',
              { type: 'button', class: 'secondary', onclick: () => void load(true) },
              'Показать ещё',
            )
          : '',
      );
    } catch (error) {
      status.replaceChildren(errorBox(error));
    }
  };

  const search = h('input', {
    id: 'q',
    type: 'search',
    value: filters.q,
    placeholder: 'имя, адрес или текст',
  }) as HTMLInputElement;
  const form = h(
    'form',
    { class: 'filters', role: 'search', 'aria-label': 'Фильтры' },
    select('state', 'Состояние', STATES, filters.state, (v) => {
      filters.state = v;
      void load(false);
    }),
    select('channel', 'Канал', CHANNELS, filters.channel, (v) => {
      filters.channel = v;
      void load(false);
    }),
    h('div', {}, h('label', { for: 'q' }, 'Поиск'), search),
    h('div', {}, h('button', { type: 'submit' }, 'Найти')),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    filters.q = search.value.trim();
    void load(false);
  });
  show('Входящие', form, status, list, more);
  // Live: a change reloads the first page (unless the operator is paging further down).
  refreshView = async () => {
    if (list.children.length <= 50) await load(false);
  };
  await load(false);
}

// ---- conversation -------------------------------------------------------------------

function facts(pairs: [string, Child][]): HTMLElement {
  const dl = h('dl', { class: 'facts' });
  for (const [k, v] of pairs)
    if (v !== null && v !== undefined && v !== '') dl.append(h('dt', {}, k), h('dd', {}, v));
  return dl;
}

function copyButton(text: string, label: string): HTMLElement {
  return h(
    'button',
    {
      type: 'button',
      class: 'link',
      'aria-label': label,
      onclick: () => {
        void navigator.clipboard?.writeText(text).then(
          () => announce('Скопировано'),
          () => announce('Не удалось скопировать'),
        );
      },
    },
    'копировать',
  );
}

function followUpText(f: FollowUp): Child {
  const key = typeof f.result?.key === 'string' ? f.result.key : null;
  const url = typeof f.result?.url === 'string' && /^https?:\/\//.test(f.result.url) ? f.result.url : null;
  const base = `${FOLLOW_UPS[f.kind] ?? f.kind}: ${f.status}${f.error ? ` (${f.error})` : ''}`;
  if (key && url)
    return h(
      'span',
      {},
      `${base} — `,
      h('a', { href: url, target: '_blank', rel: 'noopener noreferrer' }, key),
    );
  return base;
}

function exchangeEntries(
  e: Extract<Entry, { kind: 'exchange' }>,
  key: { channel: string; username: string },
): HTMLElement[] {
  const out: HTMLElement[] = [
    h(
      'li',
      { class: 'entry person' },
      h('h3', {}, `Сообщение · ${time(e.at)}`),
      h('p', { class: 'body' }, e.text),
      e.analysed_request && e.analysed_request !== e.text
        ? h(
            'details',
            {},
            h('summary', {}, 'Что анализировалось (с уточнениями)'),
            h('p', { class: 'body' }, e.analysed_request),
          )
        : null,
    ),
  ];
  const guesser = e.guesser_verdict as { is_enough?: boolean; response?: string } | null;
  const answer = e.action === 'уточнить' ? e.question : e.response;
  const feedbackNote = h('input', { id: `note-${e.id}`, maxlength: '2000' }) as HTMLInputElement;
  const feedbackStatus = h('span', { role: 'status', class: 'hint' });
  const judge = (verdict: 'helpful' | 'wrong') => {
    void api('POST', '/api/feedback', {
      channel: key.channel,
      username: key.username,
      exchange_id: e.id,
      verdict,
      note: feedbackNote.value.trim() || undefined,
    }).then(
      () => {
        feedbackStatus.textContent =
          verdict === 'helpful' ? 'Отмечено как полезное' : 'Отмечено как неверное';
      },
      (error: unknown) => {
        feedbackStatus.textContent = errorText(error);
      },
    );
  };
  out.push(
    h(
      'li',
      { class: 'entry ai' },
      h(
        'h3',
        {},
        e.status === 'failed'
          ? 'Сбой обработки'
          : e.status === 'pending'
            ? 'ИИ отвечает…'
            : `Ответ ИИ · ${e.action ?? ''}`,
      ),
      e.status === 'failed' ? h('p', { class: 'error' }, e.error ?? 'ошибка') : null,
      answer ? h('p', { class: 'body' }, answer) : null,
      facts([
        [
          'Догадчик',
          guesser
            ? `${guesser.is_enough ? 'контекста достаточно' : 'нужно уточнение'}: ${guesser.response ?? ''}`
            : null,
        ],
        ['Действие', e.action],
        ['Модель', e.model],
        [
          'Задержка',
          e.latency_ms
            ? Object.entries(e.latency_ms)
                .map(([k, v]) => `${k} ${v} мс`)
                .join(', ')
            : null,
        ],
        ['Токены', e.tokens_total === null ? null : String(e.tokens_total)],
        ...e.follow_ups.map((f): [string, Child] => ['Последствие', followUpText(f)]),
        [
          'Trace id',
          e.trace_id
            ? h(
                'span',
                {},
                h('code', {}, e.trace_id),
                ' ',
                copyButton(e.trace_id, `Копировать trace id ${e.trace_id}`),
              )
            : null,
        ],
      ]),
      e.status === 'completed'
        ? h(
            'div',
            { class: 'actions', role: 'group', 'aria-label': 'Оценка ответа ИИ' },
            h(
              'div',
              { style: undefined },
              h('label', { for: `note-${e.id}` }, 'Заметка к оценке'),
              feedbackNote,
            ),
            h('button', { type: 'button', class: 'secondary', onclick: () => judge('helpful') }, 'Полезно'),
            h('button', { type: 'button', class: 'secondary', onclick: () => judge('wrong') }, 'Неверно'),
            feedbackStatus,
          )
        : null,
    ),
  );
  return out;
}

function entryItems(entry: Entry, key: { channel: string; username: string }): HTMLElement[] {
  if (entry.kind === 'exchange') return exchangeEntries(entry, key);
  if (entry.kind === 'held')
    return [
      h(
        'li',
        { class: 'entry person' },
        h('h3', {}, `Сообщение (ждёт оператора) · ${time(entry.at)}`),
        h('p', { class: 'body' }, entry.text),
      ),
    ];
  return [
    h(
      'li',
      { class: 'entry operator' },
      h('h3', {}, `Оператор ${entry.operator} · ${time(entry.at)}`),
      h('p', { class: 'body' }, entry.text),
      h('p', { class: entry.status === 'failed' ? 'error' : 'meta' }, replyStatus(entry.status, entry.error)),
    ),
  ];
}

function replyStatus(status: string, error: string | null): string {
  if (status === 'sent') return 'доставлено';
  if (status === 'sending') return 'отправляется…';
  return `не отправлено: ${error ?? ''}`;
}

const newReplyKey = () => `r-${crypto.randomUUID()}`;
/** A composer pings "typing" at most this often; others show it this long after the last ping. */
const TYPING_PING_MS = 2500;
const TYPING_SHOWN_MS = 8000;

async function renderConversation(channel: string, username: string): Promise<void> {
  const key = { channel, username };
  const path = `/api/conversations/${encodeURIComponent(channel)}/${encodeURIComponent(username)}`;
  const header = h('div', {});
  const thread = h('ol', { class: 'thread', 'aria-label': 'Переписка' });
  const actionStatus = h('p', { role: 'status', class: 'hint', id: 'action-status' });
  // One key per composed reply: a double click or a retry of the same text never sends twice.
  let replyKey = newReplyKey();
  const text = h('textarea', { id: 'reply', name: 'reply', maxlength: '20000' }) as HTMLTextAreaElement;
  let lastTypingPing = 0;
  text.addEventListener('input', () => {
    // Editing the text makes it a different reply.
    replyKey = newReplyKey();
    // Others who have this conversation open see that someone is writing (the server throttles too).
    if (Date.now() - lastTypingPing > TYPING_PING_MS && text.value.trim()) {
      lastTypingPing = Date.now();
      void api('POST', `${path}/typing`, {}).catch(() => undefined);
    }
  });
  const typingLine = h('p', { class: 'hint typing', role: 'status', id: 'typing' });
  const typingNow = new Map<string, number>();
  const showTyping = () => {
    const names = [...typingNow.keys()];
    typingLine.textContent =
      names.length === 0
        ? ''
        : `${names.join(', ')} ${names.length === 1 ? 'пишет' : 'пишут'} ответ в этом разговоре…`;
  };
  const replyStatusEl = h('p', { role: 'status', id: 'reply-status' });
  const sendButton = h('button', { type: 'submit' }, 'Отправить') as HTMLButtonElement;
  const form = h(
    'form',
    { 'aria-labelledby': 'reply-title' },
    h('h2', { id: 'reply-title' }, 'Ответить вручную'),
    h('label', { for: 'reply' }, 'Текст ответа (уйдёт человеку по его каналу)'),
    text,
    h('p', { class: 'hint' }, 'Ctrl+Enter — отправить'),
    h('div', { class: 'actions' }, sendButton),
    replyStatusEl,
  );
  const submit = () => {
    const body = text.value.trim();
    if (!body) {
      replyStatusEl.textContent = 'Напишите текст ответа';
      text.focus();
      return;
    }
    sendButton.disabled = true;
    replyStatusEl.textContent = 'Отправляется…';
    void api<{ status: string }>('POST', `${path}/replies`, { text: body, idempotency_key: replyKey })
      .then((result) => {
        replyStatusEl.textContent = result.status === 'sending' ? 'Уже отправляется' : 'Ответ отправлен';
        text.value = '';
        replyKey = newReplyKey();
        return load();
      })
      .catch((error: unknown) => {
        replyStatusEl.replaceChildren(errorBox(error));
      })
      .finally(() => {
        sendButton.disabled = false;
      });
  };
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    submit();
  });
  text.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      submit();
    }
  });

  const act = (action: string, done: string) => {
    void api<Summary>('POST', `${path}/${action}`, {})
      .then(() => {
        actionStatus.textContent = done;
        return load();
      })
      .catch((error: unknown) => actionStatus.replaceChildren(errorBox(error)));
  };

  const load = async () => {
    try {
      const view = await api<ConversationView>('GET', path);
      const c = view.conversation;
      const mine = c.taken_over_by === session?.name;
      header.replaceChildren(
        facts([
          ['Канал', CHANNELS[c.channel] ?? c.channel],
          ['Человек', personName({ display_name: view.person.display_name, username: c.username })],
          ['Департамент', view.person.department],
          ['Должность', view.person.position],
          ['Состояние', stateBadge(c.state)],
          ['Ведёт', c.taken_over_by],
          ['Назначено', c.assigned_to],
        ]),
        h(
          'div',
          { class: 'actions' },
          c.taken_over_by && !mine
            ? h('p', { class: 'hint' }, `Разговор ведёт ${c.taken_over_by}`)
            : mine
              ? h(
                  'button',
                  { type: 'button', class: 'secondary', onclick: () => act('release', 'Возвращено ИИ') },
                  'Вернуть ИИ',
                )
              : h(
                  'button',
                  { type: 'button', onclick: () => act('take-over', 'Вы ведёте разговор') },
                  'Взять в работу',
                ),
          c.state !== 'resolved' && (!c.taken_over_by || mine)
            ? h(
                'button',
                { type: 'button', class: 'secondary', onclick: () => act('resolve', 'Разговор решён') },
                'Решено',
              )
            : null,
        ),
        actionStatus,
      );
      thread.replaceChildren(...view.entries.flatMap((e) => entryItems(e, key)));
      const blocked = Boolean(c.taken_over_by && !mine) || c.channel === 'direct';
      form.hidden = blocked;
    } catch (error) {
      header.replaceChildren(errorBox(error));
    }
  };

  show(
    `Разговор: ${username}`,
    h('p', {}, h('a', { href: '#/inbox' }, '← Входящие')),
    header,
    h('h2', {}, 'Переписка'),
    thread,
    typingLine,
    form,
  );
  refreshView = load;
  onTyping = (event) => {
    if (event.channel !== channel || event.username !== username || event.operator === session?.name) return;
    window.clearTimeout(typingNow.get(event.operator));
    typingNow.set(
      event.operator,
      window.setTimeout(() => {
        typingNow.delete(event.operator);
        showTyping();
      }, TYPING_SHOWN_MS),
    );
    showTyping();
  };
  await load();
}

// ---- escalations ----------------------------------------------------------------------

async function renderEscalations(): Promise<void> {
  const list = h('ul', { class: 'list', 'aria-label': 'Эскалации' });
  const status = h('p', { role: 'status', class: 'hint' });
  const load = async () => {
    try {
      const { items } = await api<{ items: Summary[] }>('GET', '/api/escalations');
      list.replaceChildren(
        ...items.map((c) =>
          h(
            'li',
            {},
            h(
              'div',
              { class: 'row' },
              h(
                'span',
                {},
                h('a', { href: conversationHref(c), class: 'person' }, personName(c)),
                h('br'),
                h('span', { class: 'meta' }, CHANNELS[c.channel] ?? c.channel),
              ),
              h(
                'span',
                { class: 'text' },
                `ждёт с ${time(c.escalated_since ?? c.waiting_since)} · `,
                c.last_text,
              ),
              h(
                'span',
                {},
                stateBadge(c.state),
                ' ',
                c.assigned_to
                  ? h('span', { class: 'meta' }, `назначено: ${c.assigned_to}`)
                  : h(
                      'button',
                      {
                        type: 'button',
                        class: 'secondary',
                        onclick: () =>
                          void api(
                            'POST',
                            `/api/conversations/${encodeURIComponent(c.channel)}/${encodeURIComponent(c.username)}/assign`,
                            {},
                          )
                            .then(load)
                            .catch((e: unknown) => status.replaceChildren(errorBox(e))),
                      },
                      'Назначить мне',
                    ),
              ),
            ),
          ),
        ),
      );
      status.textContent = items.length === 0 ? 'Неотвеченных эскалаций нет' : '';
    } catch (error) {
      status.replaceChildren(errorBox(error));
    }
  };
  show(
    'Эскалации',
    h(
      'p',
      { class: 'hint' },
      'Разговоры, которые ИИ передал людям или не смог обработать, — самые давние первыми.',
    ),
    status,
    list,
  );
  refreshView = load;
  await load();
}

// ---- ingest problems ----------------------------------------------------------------------

async function renderIngest(): Promise<void> {
  let status: 'quarantined' | 'skipped' = 'quarantined';
  const list = h('ul', { class: 'list', 'aria-label': 'Сообщения' });
  const note = h('p', { role: 'status', class: 'hint' });
  const empty = h('p', { class: 'hint' });
  const load = async () => {
    try {
      const page = await api<{ items: InboundItem[] }>('GET', `/api/ingest?status=${status}`);
      list.replaceChildren(
        ...page.items.map((item) =>
          h(
            'li',
            { class: 'entry' },
            h(
              'h3',
              {},
              `${CHANNELS[item.channel] ?? item.channel} · ${item.username} · ${time(item.received_at)}`,
            ),
            facts([
              ['Тема', item.subject],
              ['Причина', item.last_error],
              ['Попыток', String(item.attempts)],
              ['Идентификатор', h('code', {}, item.external_id)],
            ]),
            h('p', { class: 'body' }, item.request_text),
            item.raw_headers
              ? h(
                  'details',
                  {},
                  h('summary', {}, 'Заголовки письма'),
                  h(
                    'pre',
                    {
                      class: 'headers',
                      tabindex: '0',
                      'aria-label': `Заголовки письма ${item.external_id}`,
                    },
                    item.raw_headers,
                  ),
                )
              : null,
            h(
              'button',
              {
                type: 'button',
                onclick: () =>
                  void api('POST', `/api/ingest/${item.id}/retry`, {})
                    .then(() => {
                      note.textContent = 'Отправлено на повторную обработку';
                      return load();
                    })
                    .catch((e: unknown) => note.replaceChildren(errorBox(e))),
              },
              'Отправить заново',
            ),
          ),
        ),
      );
      empty.textContent =
        page.items.length > 0 ? '' : status === 'quarantined' ? 'Карантин пуст' : 'Пропущенных нет';
    } catch (error) {
      note.replaceChildren(errorBox(error));
    }
  };
  const tabs = select(
    'ingest-status',
    'Показать',
    { quarantined: 'в карантине', skipped: 'пропущенные' },
    status,
    (v) => {
      status = v === 'skipped' ? 'skipped' : 'quarantined';
      void load();
    },
  );
  tabs.querySelector('option[value=""]')?.remove();
  show('Проблемы приёма', h('div', { class: 'filters' }, tabs), note, empty, list);
  refreshView = load;
  await load();
}

// ---- directory (admin) ----------------------------------------------------------------------

interface Person {
  username: string;
  display_name?: string;
  department?: string;
  position?: string;
  email?: string;
  telegram_chat_id?: string;
}

/** The checks the console's API makes, said in Russian before the request (the API stays the authority). */
function directoryProblem(
  person: Record<string, string>,
): { field: keyof Person; message: string } | undefined {
  if (!person.username) return { field: 'username', message: 'Укажите имя пользователя' };
  if (person.email && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(person.email))
    return { field: 'email', message: 'Почта: нужен адрес вида name@example.com' };
  if (person.telegram_chat_id && !/^-?\d{1,20}$/.test(person.telegram_chat_id))
    return {
      field: 'telegram_chat_id',
      message: 'Telegram chat id: только цифры (у групп — с минусом впереди)',
    };
  return undefined;
}

async function renderDirectory(): Promise<void> {
  const table = h('table', {});
  const status = h('p', { role: 'status', class: 'hint' });
  const fields: [keyof Person, string, string][] = [
    ['username', 'Имя пользователя (как в канале: адрес почты или tg:id)', 'text'],
    ['display_name', 'Имя', 'text'],
    ['department', 'Департамент', 'text'],
    ['position', 'Должность', 'text'],
    ['email', 'Почта', 'email'],
    ['telegram_chat_id', 'Telegram chat id', 'text'],
  ];
  const inputs = new Map<keyof Person, HTMLInputElement>();
  const formError = h('p', { class: 'error', role: 'alert', id: 'dir-error' });
  const form = h(
    'form',
    { 'aria-labelledby': 'dir-form-title', novalidate: true },
    h('h2', { id: 'dir-form-title' }, 'Добавить или изменить'),
    ...fields.map(([name, label, type]) => {
      const input = h('input', {
        id: `dir-${name}`,
        name,
        type,
        ...(name === 'username' ? { required: true } : {}),
      }) as HTMLInputElement;
      inputs.set(name, input);
      return h('div', { class: 'field' }, h('label', { for: `dir-${name}` }, label), input);
    }),
    formError,
    h('button', { type: 'submit' }, 'Сохранить'),
  );
  const edit = (p: Person) => {
    for (const [name] of fields) (inputs.get(name) as HTMLInputElement).value = p[name] ?? '';
    inputs.get('display_name')?.focus();
  };
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const person: Record<string, string> = {};
    for (const [name] of fields) {
      const value = (inputs.get(name) as HTMLInputElement).value.trim();
      if (value) person[name] = value;
    }
    for (const input of inputs.values()) input.removeAttribute('aria-invalid');
    const problem = directoryProblem(person);
    if (problem) {
      formError.textContent = problem.message;
      const input = inputs.get(problem.field);
      input?.setAttribute('aria-invalid', 'true');
      input?.focus();
      return;
    }
    void api('PUT', '/api/directory', person)
      .then(() => {
        formError.textContent = '';
        status.textContent = `Сохранено: ${person.username}`;
        return load();
      })
      .catch((error: unknown) => {
        formError.textContent = `Не сохранено: ${errorText(error)}`;
      });
  });
  const load = async () => {
    try {
      const { items } = await api<{ items: Person[] }>('GET', '/api/directory');
      table.replaceChildren(
        h('caption', { class: 'hint' }, 'Люди в справочнике'),
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ...['Пользователь', 'Имя', 'Департамент', 'Должность', 'Почта', 'Telegram', ''].map((t) =>
              h('th', { scope: 'col' }, t),
            ),
          ),
        ),
        h(
          'tbody',
          {},
          ...items.map((p) =>
            h(
              'tr',
              {},
              h('td', {}, p.username),
              h('td', {}, p.display_name ?? ''),
              h('td', {}, p.department ?? ''),
              h('td', {}, p.position ?? ''),
              h('td', {}, p.email ?? ''),
              h('td', {}, p.telegram_chat_id ?? ''),
              h(
                'td',
                {},
                h(
                  'button',
                  {
                    type: 'button',
                    class: 'link',
                    'aria-label': `Изменить ${p.username}`,
                    onclick: () => edit(p),
                  },
                  'изменить',
                ),
              ),
            ),
          ),
        ),
      );
    } catch (error) {
      status.replaceChildren(errorBox(error));
    }
  };
  // On a phone the table scrolls inside its own box (reachable by keyboard), not the whole page.
  const tableBox = h(
    'div',
    { class: 'table-box', tabindex: '0', role: 'region', 'aria-label': 'Люди в справочнике' },
    table,
  );
  show('Справочник', status, form, h('h2', {}, 'Все'), tableBox);
  refreshView = undefined;
  await load();
}

// ---- feedback ----------------------------------------------------------------------

async function renderFeedback(): Promise<void> {
  const list = h('ul', { class: 'list', 'aria-label': 'Отзывы' });
  const status = h('p', { role: 'status', class: 'hint' });
  show(
    'Отзывы об ответах ИИ',
    session?.role === 'admin'
      ? h(
          'p',
          {},
          h(
            'a',
            { href: '/api/feedback/export', download: 'workemon-feedback.jsonl' },
            'Скачать всё (JSON Lines)',
          ),
        )
      : null,
    status,
    list,
  );
  refreshView = undefined;
  try {
    const { items } = await api<{
      items: {
        id: string;
        created_at: string;
        operator: string;
        username: string;
        channel: string;
        verdict: string;
        note: string | null;
        request: string;
        response: string | null;
      }[];
    }>('GET', '/api/feedback');
    list.replaceChildren(
      ...items.map((f) =>
        h(
          'li',
          { class: 'entry' },
          h(
            'h3',
            {},
            `${f.verdict === 'helpful' ? 'Полезно' : 'Неверно'} · ${f.operator} · ${time(f.created_at)}`,
          ),
          h('p', { class: 'body' }, h('a', { href: conversationHref(f) }, f.username), ': ', f.request),
          f.note ? h('p', { class: 'body' }, `Заметка: ${f.note}`) : null,
        ),
      ),
    );
    status.textContent = items.length === 0 ? 'Отзывов пока нет' : '';
  } catch (error) {
    status.replaceChildren(errorBox(error));
  }
}

// ---- routing ----------------------------------------------------------------------

async function route(): Promise<void> {
  if (!session) return;
  const [, section, a, b] = location.hash.split('/');
  for (const link of document.querySelectorAll<HTMLAnchorElement>('[data-nav]')) {
    if (link.dataset.nav === (section === 'c' ? 'inbox' : section)) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  refreshView = undefined;
  onTyping = undefined;
  if (section === 'c' && a && b) await renderConversation(decodeURIComponent(a), decodeURIComponent(b));
  else if (section === 'escalations') await renderEscalations();
  else if (section === 'ingest') await renderIngest();
  else if (section === 'directory' && session.role === 'admin') await renderDirectory();
  else if (section === 'feedback') await renderFeedback();
  else await renderInbox();
  main().querySelector<HTMLElement>('h1')?.focus();
}

window.addEventListener('hashchange', () => void route());
document.addEventListener('keydown', (e) => {
  // "/" jumps to the inbox search, as in most mail clients.
  const target = e.target as HTMLElement;
  if (e.key === '/' && !['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName)) {
    const q = document.getElementById('q');
    if (q) {
      e.preventDefault();
      q.focus();
    }
  }
});
document.getElementById('sign-out')?.addEventListener('click', () => {
  void api('DELETE', '/api/session').finally(signedOut);
});

void api<Session>('GET', '/api/session').then(
  (s) => {
    session = s;
    started();
  },
  () => renderSignIn(),
);
