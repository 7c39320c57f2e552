// A node:http server that serves only holdpush, with the settings held requests need.
import { type IncomingMessage, type Server, type ServerOptions, type ServerResponse, createServer } from 'node:http';
import type { Socket } from 'node:net';
import { answerError, socketError } from './answer';
import { type CreateHoldpushOptions, type Holdpush, createHoldpush } from '../holdpush';

/** Most bytes of request headers; more gets 431. */
const MAX_HEADER_BYTES = 16 * 1024;

export interface HoldpushServer {
  /** Not listening yet: call `server.listen(port)`. */
  readonly server: Server;
  readonly holdpush: Holdpush;
}

const HEADERS_TOO_LARGE = socketError('431 Request Header Fields Too Large', 'headers_too_large', `request headers may be at most ${MAX_HEADER_BYTES} bytes`);
const REQUEST_TIMEOUT = socketError('408 Request Timeout', 'timeout', 'the request did not arrive in time');
const CHUNK_EXTENSIONS_TOO_LARGE = socketError('413 Payload Too Large', 'payload_too_large', 'the chunk extensions are too large');
const BAD_REQUEST = socketError('400 Bad Request', 'bad_request', 'the request could not be parsed as HTTP/1.1');

function rawAnswer(code: string | undefined): string {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return HEADERS_TOO_LARGE;
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return REQUEST_TIMEOUT;
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return CHUNK_EXTENSIONS_TOO_LARGE;
    default:
      return BAD_REQUEST;
  }
}

/** How long a refused connection may still send (bytes read and dropped) before it is closed. */
const LINGER_MS = 2000;
const REFUSED = Symbol('holdpush.refused');

type ClientSocket = Socket & { _httpMessage?: { headersSent: boolean } | null; [REFUSED]?: true };

/**
 * Answers what node:http could not parse (or what came too slowly) with a JSON error instead
 * of its bare default, unless an answer has already begun on the socket. Then a lingering
 * close: the rest of what the client sends is read and dropped (closing with unread bytes
 * would reset the connection and lose the answer), until the client closes or LINGER_MS
 * passes, so a client that keeps its half open cannot keep the server's.
 */
function serverOnClientError(error: Error & { code?: string }, socket: ClientSocket): void {
  if (socket[REFUSED] === true) return;
  const inFlight = socket._httpMessage;
  if (error.code === 'ECONNRESET' || !socket.writable || (inFlight != null && inFlight.headersSent)) {
    socket.destroy();
    return;
  }
  socket[REFUSED] = true;
  socket.end(rawAnswer(error.code));
  socket.setTimeout(LINGER_MS, () => socket.destroy());
  socket.once('end', () => socket.destroy());
}

/** An `Expect` other than `100-continue`: a JSON 417 instead of node:http's bare one. */
function serverOnCheckExpectation(_req: IncomingMessage, res: ServerResponse): void {
  answerError(res, 417, 'expectation_failed', 'only Expect: 100-continue is supported');
}

/**
 * A `node:http` server that serves only holdpush, with timeouts fit for held requests:
 * headers must arrive quickly (slowloris), a held request is never cut by the server, and
 * idle keep-alive lasts past the 60 s idle timeout of common load balancers. Returns the
 * server, not yet listening (`server.listen(port)`), and the holdpush it serves (`publish`,
 * `close`): the CLI's set-up, for an app that gives holdpush a port of its own.
 */
export function createHoldpushServer(options: CreateHoldpushOptions = {}): HoldpushServer {
  const holdpush = createHoldpush(options);
  // Node checks headersTimeout and requestTimeout only every connectionsCheckingInterval
  // (30 s by default): check every second so a slowloris is cut close to headersTimeout.
  // requireHostHeader (Node 20+) would answer a Host-less HTTP/1.1 request with a bare 400;
  // holdpush never reads Host, so such a request is served like any other.
  const serverOptions: ServerOptions & { requireHostHeader?: boolean } = {
    maxHeaderSize: MAX_HEADER_BYTES,
    connectionsCheckingInterval: 1000,
    requireHostHeader: false,
  };
  const server = createServer(serverOptions);
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.keepAliveTimeout = 65_000;
  server.on('clientError', serverOnClientError);
  server.on('checkExpectation', serverOnCheckExpectation);
  holdpush.attach(server);
  return { server, holdpush };
}
