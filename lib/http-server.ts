import { type Server, createServer } from 'node:http';
import type { Socket } from 'node:net';
import { type CreateHoldpushOptions, type Holdpush, createHoldpush } from './holdpush';

/** Most bytes of request headers; more gets 431. */
export const MAX_HEADER_BYTES = 16 * 1024;

export interface HoldpushServer {
  readonly server: Server;
  readonly holdpush: Holdpush;
}

function rawError(status: string, code: string, message: string): string {
  const body = JSON.stringify({ error: code, message });
  return `HTTP/1.1 ${status}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
}

const HEADERS_TOO_LARGE = rawError('431 Request Header Fields Too Large', 'headers_too_large', `request headers may be at most ${MAX_HEADER_BYTES} bytes`);
const BAD_REQUEST = rawError('400 Bad Request', 'bad_request', 'the request could not be parsed as HTTP/1.1');

/** Answers what node:http could not parse with a JSON error instead of its bare default. */
function serverOnClientError(error: Error & { code?: string }, socket: Socket): void {
  if (socket.writable && (socket as Socket & { _httpMessage?: unknown })._httpMessage == null) {
    socket.end(error.code === 'HPE_HEADER_OVERFLOW' ? HEADERS_TOO_LARGE : BAD_REQUEST);
  } else {
    socket.destroy();
  }
}

/**
 * A `node:http` server that serves only holdpush, with timeouts fit for held requests:
 * headers must arrive quickly (slowloris), a held request is never cut by the server, and
 * idle keep-alive lasts past the 60 s idle timeout of common load balancers.
 */
export function createHoldpushServer(options: CreateHoldpushOptions = {}): HoldpushServer {
  const holdpush = createHoldpush(options);
  const server = createServer({ maxHeaderSize: MAX_HEADER_BYTES });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.keepAliveTimeout = 65_000;
  server.on('clientError', serverOnClientError);
  holdpush.attach(server);
  return { server, holdpush };
}
