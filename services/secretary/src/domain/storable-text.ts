/**
 * PostgreSQL stores text as valid UTF-8 without NUL: a lone surrogate or a NUL byte (from a person
 * or from the LLM) would make the write of a paid-for exchange fail. Every text is made storable
 * before it is kept: lone surrogates become U+FFFD, NUL bytes are dropped.
 */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
/** Whether a text can need cleaning at all: most have neither a surrogate nor a NUL. */
// eslint-disable-next-line no-control-regex -- NUL is exactly what is looked for
const SUSPECT = /[\u0000\uD800-\uDFFF]/;

export function storableText(text: string): string {
  if (!SUSPECT.test(text)) return text;
  // eslint-disable-next-line no-control-regex -- NUL is exactly what is removed
  return text.replace(LONE_SURROGATE, '\uFFFD').replace(/\u0000/g, '');
}

/**
 * Indexed columns (username, message_id) have a bounded length: a btree row holds at most ~2.7 kB,
 * so 512 characters (≤ 2 kB of UTF-8) always fit.
 */
export const STORED_KEY_MAX_CHARS = 512;

export function storableKey(text: string, max = STORED_KEY_MAX_CHARS): string {
  const clean = storableText(text);
  return clean.length > max ? storableText(clean.slice(0, max)) : clean;
}

/** The same for every string (and key) inside a value stored as jsonb. */
export function storableJson<T>(value: T): T {
  // Already storable (the common case): the value itself, not a copy.
  return needsCleaning(value) ? (deepClean(value) as T) : value;
}

/** Whether a value holds a string (or key) storableText would change; allocates nothing. */
function needsCleaning(value: unknown): boolean {
  if (typeof value === 'string') return SUSPECT.test(value);
  if (Array.isArray(value)) return value.some(needsCleaning);
  if (value !== null && typeof value === 'object' && !(value instanceof Date)) {
    for (const key in value)
      if (
        Object.hasOwn(value, key) &&
        (SUSPECT.test(key) || needsCleaning((value as Record<string, unknown>)[key]))
      )
        return true;
  }
  return false;
}

function deepClean(value: unknown): unknown {
  if (typeof value === 'string') return storableText(value);
  if (Array.isArray(value)) return value.map(deepClean);
  if (value !== null && typeof value === 'object' && !(value instanceof Date)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [storableText(k), deepClean(v)]));
  }
  return value;
}
