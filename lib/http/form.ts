// The fields of a `POST /send` body: multipart, urlencoded, JSON or plain text.
import { mediaType } from './body';

/** The fields of a `POST /send`. */
export interface SendForm {
  message: string | undefined;
  uid: string | undefined;
  token: string | undefined;
}

export type FormResult = { ok: true; form: SendForm } | { ok: false; status: 400 | 415; message: string };

/** How long the platform's multipart parser may take over a body of at most a few dozen KiB. */
const PARSE_DEADLINE_MS = 2000;

/**
 * Whether a multipart body ends with its closing delimiter. Node 18's `formData()` throws
 * outside its promise (an uncaught exception) on a file part cut short, so such bodies are
 * refused before it sees them; this checks the framing's last line only, it parses nothing.
 */
function closesMultipart(contentType: string, body: Buffer): boolean {
  const match = /;\s*boundary=(?:"([^"]{1,70})"|([^;\s]{1,70}))/i.exec(contentType);
  const boundary = match?.[1] ?? match?.[2];
  if (boundary === undefined) return false;
  const close = `--${boundary}--`;
  return body.subarray(0, close.length).toString('latin1') === close || body.includes(`\r\n${close}`, 0, 'latin1');
}

/** Node 18's `formData()` may never settle on some malformed bodies: give up after a deadline. */
function withDeadline<T>(work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('multipart parse deadline')), PARSE_DEADLINE_MS);
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/**
 * The form in an object: a JSON body's, or what an app's body parser left on `req.body`
 * (`express.urlencoded()`, `express.json()`, ...).
 */
export function formFromFields(data: unknown): FormResult {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return { ok: false, status: 400, message: 'the body must be an object like {"message": "..."}' };
  const { message, uid, token } = data as Record<string, unknown>;
  if (message !== undefined && typeof message !== 'string') return { ok: false, status: 400, message: '"message" must be a string' };
  if (uid !== undefined && uid !== null && typeof uid !== 'string') return { ok: false, status: 400, message: '"uid" must be a string' };
  return { ok: true, form: { message: text(message), uid: text(uid), token: text(token) } };
}

/**
 * Reads `/send` bodies: multipart (parsed by the platform's own `Response.formData()`),
 * urlencoded, JSON, or text/plain (the body is the message). No Content-Type reads as text.
 */
export async function parseSendForm(contentType: string | undefined, body: Buffer): Promise<FormResult> {
  const type = mediaType(contentType);
  switch (type) {
    case 'multipart/form-data': {
      if (!closesMultipart(contentType as string, body)) return { ok: false, status: 400, message: 'the multipart body is cut short (no closing boundary)' };
      let data: FormData;
      try {
        data = await withDeadline(new Response(body as Uint8Array<ArrayBuffer>, { headers: { 'content-type': contentType as string } }).formData());
      } catch {
        return { ok: false, status: 400, message: 'the multipart body could not be read' };
      }
      const field = async (name: string): Promise<string | undefined> => {
        const value = data.get(name);
        return value === null ? undefined : typeof value === 'string' ? value : await value.text();
      };
      return { ok: true, form: { message: await field('message'), uid: await field('uid'), token: await field('token') } };
    }
    case 'application/x-www-form-urlencoded': {
      const data = new URLSearchParams(body.toString('utf8'));
      return { ok: true, form: { message: data.get('message') ?? undefined, uid: data.get('uid') ?? undefined, token: data.get('token') ?? undefined } };
    }
    case 'application/json': {
      let data: unknown;
      try {
        data = JSON.parse(body.toString('utf8'));
      } catch {
        return { ok: false, status: 400, message: 'the JSON body could not be parsed' };
      }
      return formFromFields(data);
    }
    case '':
    case 'text/plain':
      return { ok: true, form: { message: body.toString('utf8'), uid: undefined, token: undefined } };
    default:
      return { ok: false, status: 415, message: 'send multipart/form-data, application/x-www-form-urlencoded, application/json or text/plain' };
  }
}
