/** Reading what the server sends (docs/protocol.md): pure functions, no network. */

const TOKEN = /^[0-9A-Za-z._~-]{1,512}$/;

/** Reads `T` out of an Etag value: bare, `"T"`, or `W/"T"`; null when it is not a token. */
export function etagToken(value: string | null): string | null {
  if (!value) return null;
  let v = value.trim();
  if (v.slice(0, 2) === 'W/') v = v.slice(2);
  if (v.length >= 2 && v.charAt(0) === '"' && v.charAt(v.length - 1) === '"') v = v.slice(1, -1);
  return TOKEN.test(v) ? v : null;
}

/** Unix milliseconds from a message id `"<unix s>:<T>"`, or null. */
export function timeFromId(id: string | null): number | null {
  const m = /^(\d{1,12}):/.exec(id ?? '');
  return m ? Number(m[1]) * 1000 : null;
}

/** Retry-After as milliseconds (delta seconds or an HTTP date), or null. */
export function retryAfterMs(value: string | null, now: number): number | null {
  if (!value) return null;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const t = Date.parse(v);
  return Number.isNaN(t) ? null : Math.max(0, t - now);
}

/** What an error answer says: its status and, from a JSON body, `error` and `message`. */
export interface ErrorDetail {
  status: number;
  error: string | null;
  message: string | null;
}

export function errorDetail(status: number, text: string): ErrorDetail {
  const detail: ErrorDetail = { status, error: null, message: null };
  try {
    const body: unknown = JSON.parse(text);
    if (body !== null && typeof body === 'object') {
      const { error, message } = body as { error?: unknown; message?: unknown };
      detail.error = typeof error === 'string' ? error : null;
      detail.message = typeof message === 'string' ? message.slice(0, 200) : null;
    }
  } catch {
    // not JSON: the status says enough
  }
  return detail;
}

/** One entry of a batch answer's `messages`, as far as the client trusts it. */
export interface BatchItem {
  id?: unknown;
  channel?: unknown;
  time?: unknown;
  contentType?: unknown;
  data?: unknown;
  encoding?: unknown;
}

/** A batch answer's body; throws on anything else (a broken body is retried with backoff). */
export function parseBatch(text: string): { messages: BatchItem[]; last: string | null; gap: boolean } {
  const body: unknown = JSON.parse(text);
  if (body === null || typeof body !== 'object' || !Array.isArray((body as { messages?: unknown }).messages)) {
    throw new Error('batch response without messages');
  }
  const { messages, last, gap } = body as { messages: unknown[]; last?: unknown; gap?: unknown };
  return {
    messages: messages.map((m) => (m !== null && typeof m === 'object' ? (m as BatchItem) : {})),
    last: typeof last === 'string' && last !== '' ? last : null,
    gap: gap === true,
  };
}
