// The one way an answer is written: headers as flat name/value pairs, JSON errors through answerError.
import type { ServerResponse } from 'node:http';
import type { ErrorCode } from '../errors';

export const JSON_TYPE = 'application/json; charset=utf-8';

/**
 * Header names and values, flat (`['Content-Type', 'text/plain', ...]`): what `writeHead` and
 * the prebuilt fast path (lib/http/wire.ts) both take, so a header list is never converted.
 */
export type HeaderPairs = readonly string[];

/** Writes a whole answer; a body gets its `Content-Length`. */
export function answer(res: ServerResponse, status: number, headers: HeaderPairs, body?: Buffer | string): void {
  res.writeHead(status, body === undefined ? (headers as string[]) : [...headers, 'Content-Length', String(Buffer.byteLength(body))]);
  res.end(body);
}

/** Starts an answer whose body is written as it comes (an EventSource stream). */
export function startAnswer(res: ServerResponse, status: number, headers: HeaderPairs): void {
  res.writeHead(status, headers as string[]);
}

function errorJson(code: ErrorCode, message: string): string {
  return JSON.stringify({ error: code, message });
}

/**
 * Answers with a JSON error `{"error": code, "message": words}` (docs/protocol.md, "Errors");
 * a response already started is cut off instead.
 */
export function answerError(res: ServerResponse, status: number, code: ErrorCode, message: string, headers: HeaderPairs = []): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  answer(res, status, [...headers, 'Content-Type', JSON_TYPE, 'Cache-Control', 'no-store'], errorJson(code, message));
}

/**
 * A JSON error as raw bytes, for a socket that has no response to write it on (the connection
 * then closes). `status` is the whole status line after the version: its words are fixed here,
 * not taken from whatever this Node's STATUS_CODES says.
 */
export function socketError(status: string, code: ErrorCode, message: string): string {
  const body = errorJson(code, message);
  return `HTTP/1.1 ${status}\r\nContent-Type: ${JSON_TYPE}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
}

/**
 * Whether the client is gone (nothing it could be answered on). The request's socket, not
 * the response's: a pipelined request's response gets its socket only when the answers
 * before it are done.
 */
export function gone(res: ServerResponse): boolean {
  return res.destroyed || res.writableEnded || res.req.socket.destroyed;
}
