// The request log: one line per finished request, with secrets redacted.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { LogFormat } from '../options';

/** Query parameters whose values never reach a log line (names compared lower-cased). */
const SECRET_PARAMS = new Set(['token', 'access_token', 'jwt']);

/** The name of one `name=value` query part as URLSearchParams reads it (`%74oken` is `token`). */
function paramName(part: string): string {
  for (const name of new URLSearchParams(part).keys()) return name.toLowerCase();
  return '';
}

/** The URL with the value of every secret query parameter replaced, however its name is encoded. */
export function redactPath(url: string): string {
  const mark = url.indexOf('?');
  if (mark < 0) return url;
  const parts = url.slice(mark + 1).split('&');
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i] as string;
    const eq = part.indexOf('=');
    if (eq >= 0 && SECRET_PARAMS.has(paramName(part))) parts[i] = `${part.slice(0, eq)}=[redacted]`;
  }
  return `${url.slice(0, mark + 1)}${parts.join('&')}`;
}

export type Write = (line: string) => void;

export interface Logger {
  /** Logs one line when the request has finished (answered or abandoned). */
  request(req: IncomingMessage, res: ServerResponse): void;
  error(context: string, error: unknown): void;
}

/** The address a log line shows for a request: by default its peer's. */
export type AddressOf = (req: IncomingMessage) => string | undefined;

/** One line per finished request, in text or JSON; `off` logs only errors. */
export function createLogger(
  format: LogFormat,
  write: Write = (line) => process.stdout.write(`${line}\n`),
  addressOf: AddressOf = (req) => req.socket.remoteAddress,
): Logger {
  return {
    request(req, res) {
      if (format === 'off') return;
      const started = Date.now();
      const socket = req.socket;
      const before = socket.bytesWritten;
      // Read now: a socket that has closed no longer knows its peer. '-' is an unknown client.
      const address = addressOf(req) ?? '-';
      res.once('close', () => {
        const entry = {
          time: new Date().toISOString(),
          method: req.method ?? '',
          path: redactPath(req.url ?? ''),
          status: res.writableFinished ? res.statusCode : 0,
          bytes: socket.bytesWritten - before,
          ms: Date.now() - started,
          address,
        };
        write(format === 'json' ? JSON.stringify(entry) : `${entry.time} ${entry.address} ${entry.method} ${entry.path} ${entry.status || 'aborted'} ${entry.bytes}B ${entry.ms}ms`);
      });
    },
    error(context, error) {
      const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
      if (format === 'json') process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level: 'error', context, message })}\n`);
      else process.stderr.write(`${new Date().toISOString()} error ${context}: ${message}\n`);
    },
  };
}
