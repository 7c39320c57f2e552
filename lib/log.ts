import type { IncomingMessage, ServerResponse } from 'node:http';
import type { LogFormat } from './options';

/** Query parameters whose values never reach a log line. */
const SECRET_PARAMS = /([?&](?:token|access_token|jwt)=)[^&]*/gi;

export function redactPath(url: string): string {
  return url.replace(SECRET_PARAMS, '$1[redacted]');
}

export type Write = (line: string) => void;

export interface Logger {
  /** Logs one line when the request has finished (answered or abandoned). */
  request(req: IncomingMessage, res: ServerResponse): void;
  error(context: string, error: unknown): void;
}

/** One line per finished request, in text or JSON; `off` logs only errors. */
export function createLogger(format: LogFormat, write: Write = (line) => process.stdout.write(`${line}\n`)): Logger {
  return {
    request(req, res) {
      if (format === 'off') return;
      const started = Date.now();
      const socket = req.socket;
      const before = socket.bytesWritten;
      res.once('close', () => {
        const entry = {
          time: new Date().toISOString(),
          method: req.method ?? '',
          path: redactPath(req.url ?? ''),
          status: res.writableFinished ? res.statusCode : 0,
          bytes: socket.bytesWritten - before,
          ms: Date.now() - started,
          address: socket.remoteAddress ?? '',
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
