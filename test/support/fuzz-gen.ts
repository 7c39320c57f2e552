/**
 * Generators of hostile requests for test/fuzz.test.ts: well-formed HTTP with hostile content
 * (sent with node:http) and raw socket bytes (sent with node:net). Each case is built from its
 * own seeded generator, so `FUZZ_SEED` replays a run case by case whatever the interleaving.
 */
import { signJwt } from '../../lib/index';
import { NAME_CHARS, NASTY_CHARS, type Rng, TOKEN_CHARS } from './rng';

/** A marker put wherever a secret goes; no log line may ever contain it. */
export const SECRET_MARK = 'FUZZSECRET';

export interface FuzzTarget {
  /** Mount prefix of the server ('' or '/push'). */
  readonly prefix: string;
  /** Set on the locked server: subscribers need a JWT signed with it. */
  readonly subscribeSecret?: string;
  /** Set on the locked server: publishers need it as a bearer token. */
  readonly publishToken?: string;
  /** The server's --max-message. */
  readonly maxMessage: number;
  /** A token the server issued (`<epoch>-<n>` for the memory store): positions near real ones. */
  knownToken?: string;
}

export interface HttpCase {
  readonly lane: 'http';
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body: Buffer | undefined;
  /** Sent without Content-Length, in pieces (chunked). */
  readonly chunked: boolean;
  /** The body passes the server's limit: a 413 may cut the connection while we still write. */
  readonly oversized: boolean;
}

export interface RawCase {
  readonly lane: 'raw';
  /** Written one after another, `gapMs` apart. */
  readonly segments: readonly Buffer[];
  readonly gapMs: number;
  /** Half-close after writing (else leave it open: the server must close it itself). */
  readonly end: boolean;
  readonly label: string;
}

export type FuzzCase = HttpCase | RawCase;

const CHANNEL_POOL = ['news', 'chat', 'c1', 'c2', 'a.b', 'x-y', 'u@h', '~t', '_', 'Z9'];
const UID_POOL = ['alice', 'bob', '1252473', 'u.1', 'x~y'];

/** A channel name: mostly valid (a small pool, so publishers meet subscribers), else hostile. */
export function channelName(r: Rng): string {
  switch (r.int(0, 11)) {
    case 0: case 1: case 2: case 3: case 4:
      return r.pick(CHANNEL_POOL);
    case 5:
      return r.string(NAME_CHARS, r.int(1, 128));
    case 6:
      return r.string(NAME_CHARS, r.int(129, 400));
    case 7:
      return r.pick(['', '.', '..', '...', '.a', 'a/b', 'a,b', 'a:b', 'a b', 'a%b', '\u00e9', '\u0000', '*', 'uid:*', 'uid:alice', '\u{1f600}', ' a', 'a\t']);
    case 8: {
      const base = r.string(NAME_CHARS, r.int(1, 20));
      const at = r.int(0, base.length);
      return base.slice(0, at) + r.pick([...NASTY_CHARS]) + base.slice(at);
    }
    case 9:
      return r.string(NAME_CHARS + NASTY_CHARS, r.int(1, 24));
    default:
      return r.string(NAME_CHARS, r.int(1, 8));
  }
}

function channelList(r: Rng): string[] {
  const roll = r.int(0, 19);
  const count = roll === 0 ? 16 : roll === 1 ? 17 : roll === 2 ? r.int(18, 40) : r.int(1, 3);
  const names: string[] = [];
  for (let i = 0; i < count; i++) names.push(channelName(r));
  if (r.chance(0.05)) names.push('');
  if (r.chance(0.05) && names.length > 0) names.push(names[0] as string);
  return names;
}

function token(r: Rng, target: FuzzTarget): string {
  switch (r.int(0, 5)) {
    case 0: {
      const known = target.knownToken;
      const dash = known === undefined ? -1 : known.lastIndexOf('-');
      const epoch = dash < 0 ? r.string('0123456789abcdefghijklmnopqrstuvwxyz', 12) : (known as string).slice(0, dash);
      return `${epoch}-${r.chance(0.2) ? r.pick(['0', '00', '999999999999999', '1e3', '-1']) : r.int(0, 2000)}`;
    }
    case 1:
      return r.string(TOKEN_CHARS, 512);
    default:
      return r.string(TOKEN_CHARS, r.int(1, 40));
  }
}

/** A position as a client might name it: valid, quoted, huge, malformed. */
export function position(r: Rng, target: FuzzTarget): string {
  const t = token(r, target);
  const seconds = String(r.int(0, 2_000_000_000));
  switch (r.int(0, 19)) {
    case 0: case 1: case 2:
      return t;
    case 3: case 4: case 5:
      return `${seconds}:${t}`;
    case 6:
      return `"${t}"`;
    case 7:
      return `"${seconds}:${t}"`;
    case 8:
      return r.string(TOKEN_CHARS, 513);
    case 9:
      return `${r.string('0123456789', r.int(21, 60))}:${t}`;
    case 10:
      return r.pick(['*', 'W/"abc"', ':abc', '1:', 'a:b', '1:2:3', '""', '"', "'abc'", '-1:abc', '1.5:abc', ' ', '0', 'null', 'abc, def']);
    case 11:
      return t + r.pick([...NASTY_CHARS]) + t;
    case 12:
      return r.string(TOKEN_CHARS + NASTY_CHARS, r.int(1, 30));
    case 13:
      return `${seconds}:${r.string(TOKEN_CHARS, 600)}`;
    default:
      return `${seconds}:${t}`;
  }
}

/** A header value Node's client will send: UTF-8 bytes read as latin1, control bytes dropped. */
export function headerSafe(text: string): string {
  return Buffer.from(text, 'utf8').toString('latin1').replace(/[^\t\x20-\x7e\x80-\xff]/g, '');
}

/** encodeURIComponent that never throws (a lone surrogate is sent as U+FFFD, as a browser would). */
function encode(text: string): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9_.!~*'()-]/.test(c) ? c : `%${byte.toString(16).padStart(2, '0').toUpperCase()}`;
  }
  return out;
}

/** Percent-encodes what a request line cannot carry (and, at random, some of what it can). */
function pathSafe(r: Rng, text: string, encodeSome = false): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    const plain = byte > 0x20 && byte < 0x7f && byte !== 0x25 && byte !== 0x3f && byte !== 0x23;
    if (plain && !(encodeSome && r.chance(0.2))) out += String.fromCharCode(byte);
    else out += `%${byte.toString(16).padStart(2, '0').toUpperCase()}`;
  }
  return out;
}

function brokenPercent(r: Rng): string {
  return r.pick(['%', '%z', '%zz', '%C3', '%C3%28', '%E2%82', '%ED%A0%80', '%FF', '%00', '%2', '%%', '%u0041']);
}

/** A path segment for a channel (list): encoded, over-encoded, or with broken escapes. */
function encodedSegment(r: Rng, text: string): string {
  const roll = r.int(0, 9);
  if (roll === 0) return pathSafe(r, text) + brokenPercent(r);
  if (roll === 1) return brokenPercent(r) + pathSafe(r, text);
  return pathSafe(r, text, roll < 4);
}

function jwt(r: Rng, target: FuzzTarget, claims: () => object): string {
  const secret = target.subscribeSecret ?? 'not-the-secret';
  switch (r.int(0, 7)) {
    case 0:
      return `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from(JSON.stringify(claims())).toString('base64url')}.`;
    case 1:
      return signJwt(claims() as Record<string, unknown>, 'wrong-secret');
    case 2:
      return `${r.string('ABCDEFabcdef0123456789-_', r.int(0, 40))}.${r.string('ABCDEFabcdef0123456789-_=+/', r.int(0, 40))}.${r.string('abc', r.int(0, 5))}`;
    case 3:
      return signJwt({ ...claims(), exp: Math.floor(Date.now() / 1000) - 60 } as Record<string, unknown>, secret);
    case 4:
      return `${SECRET_MARK}${r.string(TOKEN_CHARS, 8)}`;
    default:
      return signJwt(claims() as Record<string, unknown>, secret);
  }
}

function grants(r: Rng): object {
  const subscribe: unknown[] = [];
  for (let i = r.int(0, 4); i > 0; i--) subscribe.push(r.chance(0.3) ? `uid:${r.pick(UID_POOL)}` : r.pick(CHANNEL_POOL));
  if (r.chance(0.1)) subscribe.push(42, null, { x: 1 });
  const claims: Record<string, unknown> = { holdpush: r.chance(0.1) ? 'nope' : { subscribe: r.chance(0.05) ? 'news' : subscribe, publish: [r.pick(CHANNEL_POOL)] } };
  if (r.chance(0.2)) claims.nbf = Math.floor(Date.now() / 1000) + r.pick([-10, 3600]);
  if (r.chance(0.2)) claims.exp = r.pick([Math.floor(Date.now() / 1000) + 3600, 'soon', -1]);
  return claims;
}

function authorization(r: Rng, target: FuzzTarget): string | undefined {
  switch (r.int(0, 9)) {
    case 0:
      return `Bearer ${SECRET_MARK}-${r.string(TOKEN_CHARS, 10)}`;
    case 1:
      return r.pick(['Bearer', 'Bearer ', 'Basic dXNlcjpwYXNz', 'bearer  x', 'Bearer a b', 'Token x', '']);
    case 2:
      return target.publishToken === undefined ? undefined : `Bearer ${target.publishToken}`;
    case 3: case 4:
      return `Bearer ${jwt(r, target, () => grants(r))}`;
    default:
      return undefined;
  }
}

const ACCEPTS = [
  'text/event-stream',
  'application/json',
  'text/html',
  'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8',
  'application/json, text/html',
  'text/json',
  '*/*',
  'TEXT/EVENT-STREAM',
  'image/png',
  ';;;,,,',
];

function accept(r: Rng): string | undefined {
  return r.chance(0.35) ? undefined : r.pick(ACCEPTS);
}

function multipartBody(r: Rng, fields: Record<string, string>): { type: string; body: Buffer } {
  const boundary = r.chance(0.1) ? r.string(NAME_CHARS, r.int(71, 200)) : `----fuzz${r.string('0123456789abcdef', 16)}`;
  const parts: string[] = [];
  for (const [name, value] of Object.entries(fields)) {
    const file = r.chance(0.15) ? `; filename="${r.string(NAME_CHARS, 6)}.txt"\r\nContent-Type: text/plain` : '';
    parts.push(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"${file}\r\n\r\n${value}\r\n`);
  }
  let text = `${parts.join('')}--${boundary}--\r\n`;
  let type = `multipart/form-data; boundary=${boundary}`;
  switch (r.int(0, 11)) {
    case 0:
      type = `multipart/form-data; boundary=other${boundary}`;
      break;
    case 1:
      type = 'multipart/form-data';
      break;
    case 2:
      text = text.slice(0, r.int(0, text.length));
      break;
    case 3:
      text = text.replace(/--\r\n$/, '\r\n');
      break;
    case 4:
      text = text.replace(/Content-Disposition: form-data; /g, 'Content-Disposition: ');
      break;
    case 5:
      type = `multipart/form-data; boundary="${boundary}"`;
      break;
    case 6:
      text = text.replace(/\r\n/g, '\n');
      break;
    case 7:
      text = `${r.bytes(r.int(1, 200)).toString('latin1')}${text}`;
      break;
    case 8:
      type = `multipart/form-data; boundary=${boundary}; boundary=x`;
      break;
    default:
      break;
  }
  return { type, body: Buffer.from(text, 'latin1') };
}

function messageText(r: Rng): string {
  switch (r.int(0, 7)) {
    case 0:
      return '';
    case 1:
      return r.string(NASTY_CHARS + NAME_CHARS, r.int(1, 60));
    case 2:
      return `line one\nline two\r\nline three\rdata: injected\n\nid: 1`;
    default:
      return `fuzz ${r.string(NAME_CHARS, r.int(1, 40))}`;
  }
}

function formFields(r: Rng): Record<string, string> {
  const fields: Record<string, string> = {};
  if (r.chance(0.85)) fields.message = messageText(r);
  if (r.chance(0.4)) fields.uid = r.chance(0.7) ? r.pick(UID_POOL) : channelName(r);
  if (r.chance(0.2)) fields.token = `${SECRET_MARK}-${r.string(TOKEN_CHARS, 6)}`;
  if (r.chance(0.1)) fields[r.string(NAME_CHARS, 5)] = r.string(NAME_CHARS, 5);
  return fields;
}

interface Body {
  type: string | undefined;
  body: Buffer;
  oversized: boolean;
}

/** A request body: forms in every encoding, broken ones, wrong types, random and oversized bytes. */
function body(r: Rng, target: FuzzTarget): Body {
  const big = (extra: number) => Buffer.alloc(target.maxMessage + extra, r.string('abc', 1));
  switch (r.int(0, 19)) {
    case 0: case 1: case 2: {
      const { type, body: bytes } = multipartBody(r, formFields(r));
      return { type, body: bytes, oversized: false };
    }
    case 3: case 4: {
      const fields = formFields(r);
      let text = new URLSearchParams(fields).toString();
      if (r.chance(0.3)) text += `&${brokenPercent(r)}=${brokenPercent(r)}`;
      return { type: r.pick(['application/x-www-form-urlencoded', 'application/x-www-form-urlencoded; charset=utf-8', 'APPLICATION/X-WWW-FORM-URLENCODED']), body: Buffer.from(text), oversized: false };
    }
    case 5: case 6: {
      const fields = formFields(r);
      const value: unknown = r.pick<unknown>([
        fields,
        { message: 42 },
        { message: { nested: true } },
        { message: 'ok', uid: 7 },
        { message: 'ok', uid: null },
        [fields],
        'just a string',
        null,
        12,
        { __proto__: { message: 'polluted' } },
        JSON.parse('{"__proto__": {"message": "polluted"}, "constructor": {"prototype": {"x": 1}}}'),
      ]);
      let text = JSON.stringify(value);
      if (r.chance(0.3)) text = text.slice(0, r.int(0, text.length));
      return { type: r.pick(['application/json', 'application/json; charset=utf-8', 'application/json; charset=utf-16']), body: Buffer.from(text), oversized: false };
    }
    case 7: {
      const depth = r.int(1000, 9000);
      return { type: 'application/json', body: Buffer.from('['.repeat(depth) + ']'.repeat(r.chance(0.5) ? depth : 0)), oversized: false };
    }
    case 8: case 9:
      return { type: r.chance(0.5) ? 'text/plain; charset=utf-8' : undefined, body: Buffer.from(messageText(r)), oversized: false };
    case 10: case 11:
      return { type: r.pick([undefined, 'application/octet-stream', 'image/png', 'text/plain', 'application/xml', 'multipart/mixed; boundary=x', '', ';;', 'text/plain; charset=bogus', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=']), body: r.bytes(r.int(0, 600)), oversized: false };
    case 12:
      return { type: 'text/plain', body: big(1), oversized: true };
    case 13:
      return { type: 'application/json', body: Buffer.from(JSON.stringify({ message: 'x'.repeat(target.maxMessage + r.int(1, 100)) })), oversized: false };
    case 14:
      return { type: r.pick(['text/plain', 'application/octet-stream']), body: big(r.int(16 * 1024, 200 * 1024)), oversized: true };
    case 15:
      return { type: 'text/plain', body: Buffer.from('x'.repeat(target.maxMessage)), oversized: false };
    default:
      return { type: undefined, body: Buffer.alloc(0), oversized: false };
  }
}

const METHODS = ['GET', 'GET', 'GET', 'GET', 'POST', 'POST', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD', 'PROPFIND', 'TRACE', 'PURGE', 'FOO', 'get', 'M-SEARCH', 'LINK'];

function query(r: Rng, target: FuzzTarget, pos: string | undefined): string {
  const params: string[] = [];
  if (pos !== undefined) params.push(`last_event_id=${r.chance(0.8) ? encode(pos) : pathSafe(r, pos)}`);
  if (r.chance(0.15)) {
    const name = r.pick(['token', 'TOKEN', '%74oken', 'tok%65n', 'access_token', 'jwt']);
    const value = target.subscribeSecret !== undefined && r.chance(0.5) ? jwt(r, target, () => grants(r)) : `${SECRET_MARK}-${r.string(TOKEN_CHARS, 8)}`;
    params.push(`${name}=${value}`);
  }
  if (r.chance(0.1)) params.push(`${pathSafe(r, r.string(NASTY_CHARS + NAME_CHARS, 6))}=${brokenPercent(r)}`);
  if (r.chance(0.03)) params.push(`x=${'y'.repeat(r.int(2000, 6000))}`);
  return params.length === 0 ? '' : `?${params.join('&')}`;
}

/** A path, with the route part chosen first so most requests reach a handler. */
function route(r: Rng, target: FuzzTarget): { path: string; positionInQuery: boolean } {
  const pos = r.chance(0.25) ? position(r, target) : undefined;
  let path: string;
  switch (r.int(0, 23)) {
    case 0: case 1: case 2: case 3: case 4: case 5:
      path = `/sub/${encodedSegment(r, channelList(r).join(','))}`;
      break;
    case 6: case 7: case 8: case 9:
      path = `/pub/${encodedSegment(r, channelName(r))}`;
      break;
    case 10: case 11: {
      const uid = r.chance(0.7) ? r.pick(UID_POOL) : channelName(r);
      path = `/?uid=${r.chance(0.8) ? encode(uid) : pathSafe(r, uid)}`;
      break;
    }
    case 12: case 13:
      path = '/send';
      break;
    case 14:
      path = r.pick(['/', '/stats', '/metrics', '/healthz', '/index.html', '/send.html', '/holdpush.js', '/favicon.ico', '/app.css']);
      break;
    case 15:
      path = r.pick(['/sub/', '/pub/', '/sub', '/pub', '/sub/../stats', '/pub/..', '/pub/%2e%2e', '/pub/%2E', '/sub/a/b', '/../etc/passwd', '/%2e%2e/%2e%2e/etc/passwd', '/public/../package.json', '//sub/a', '/sub//a', '/.git/config', '/index.html/', '/send/']);
      break;
    case 16:
      path = `/${pathSafe(r, r.string(NAME_CHARS + NASTY_CHARS, r.int(0, 40)))}`;
      break;
    case 17:
      path = `/sub/${'a,'.repeat(r.int(100, 4000))}a`;
      break;
    case 18:
      path = `/pub/${'a'.repeat(r.int(2000, 7000))}`;
      break;
    case 19:
      path = `/${r.pick(['sub', 'pub'])}/${brokenPercent(r)}`;
      break;
    default:
      path = `/sub/${r.pick(CHANNEL_POOL)}`;
      break;
  }
  if (!path.includes('?')) path += query(r, target, pos);
  else if (pos !== undefined) path += `&last_event_id=${encode(pos)}`;
  if (target.prefix !== '' && r.chance(0.9)) path = path === '/' && r.chance(0.5) ? target.prefix : `${target.prefix}${path}`;
  return { path, positionInQuery: pos !== undefined };
}

/** A request node:http can send: every hostile part lives in what it carries. */
export function httpCase(r: Rng, target: FuzzTarget): HttpCase {
  const { path } = route(r, target);
  const bare = path.startsWith(target.prefix) ? path.slice(target.prefix.length) : path;
  // Mostly a method the route answers, so most requests get past the router.
  let method = r.pick(METHODS);
  if (r.chance(0.75)) {
    if (bare.startsWith('/send')) method = r.pick(['POST', 'POST', 'POST', 'GET']);
    else if (bare.startsWith('/pub/')) method = r.pick(['POST', 'POST', 'PUT', 'GET', 'GET', 'DELETE', 'HEAD']);
    else method = r.chance(0.95) ? 'GET' : 'HEAD';
  }
  const headers: Record<string, string> = {};
  const wanted = bare.startsWith('/sub/') && r.chance(0.3) ? r.pick(['text/event-stream', 'application/json']) : accept(r);
  if (wanted !== undefined) headers.Accept = wanted;
  for (const name of ['If-None-Match', 'Last-Event-ID', 'Etag']) {
    if (r.chance(0.12)) headers[name] = headerSafe(position(r, target));
  }
  if (r.chance(0.05)) headers['If-Modified-Since'] = r.pick(['Thu, 01 Jan 1970 00:00:00 GMT', 'yesterday', headerSafe(r.string(NASTY_CHARS + NAME_CHARS, 20))]);
  const auth = authorization(r, target);
  if (auth !== undefined) headers.Authorization = headerSafe(auth);
  if (r.chance(0.08)) headers['X-EventSource-Event'] = headerSafe(r.pick(['update', 'a b', '', ' x', 'x'.repeat(129), r.string(NASTY_CHARS, 5), '\u00e9v\u00e9nement']));
  if (r.chance(0.05)) headers.Origin = r.pick(['https://evil.test', 'null', headerSafe(r.string(NASTY_CHARS, 10))]);
  if (r.chance(0.03)) headers.Expect = r.pick(['100-continue', '100-continue', 'something-else']);
  for (let i = r.chance(0.2) ? r.int(1, 6) : 0; i > 0; i--) headers[`X-${r.string(NAME_CHARS.replace(/[@.~]/g, ''), r.int(1, 20))}`] = headerSafe(r.string(NAME_CHARS + NASTY_CHARS, r.int(0, 100)));
  if (r.chance(0.03)) for (let i = 0; i < 150; i++) headers[`X-Many-${i}`] = r.string(NAME_CHARS, 20);
  if (r.chance(0.025)) headers['X-Huge'] = 'h'.repeat(r.int(17 * 1024, 24 * 1024));
  let payload: Body | undefined;
  if (method === 'POST' || method === 'PUT' || method === 'PATCH' || r.chance(0.05)) payload = body(r, target);
  if (payload?.type !== undefined) headers['Content-Type'] = payload.type;
  return { lane: 'http', method, path, headers, body: payload?.body, chunked: payload !== undefined && r.chance(0.25), oversized: payload?.oversized ?? false };
}

const CRLF = '\r\n';

function rawRequestText(r: Rng, target: FuzzTarget): string {
  const { path } = route(r, target);
  const method = r.pick(['GET', 'GET', 'POST', 'PUT', 'DELETE', 'OPTIONS']);
  let head = `${method} ${path} HTTP/1.1${CRLF}Host: 127.0.0.1${CRLF}`;
  if (r.chance(0.3)) head += `Accept: ${r.pick(ACCEPTS)}${CRLF}`;
  return head;
}

/** Bytes no client library would send: garbage, half requests, broken framing. */
export function rawCase(r: Rng, target: FuzzTarget): RawCase {
  const text = (s: string) => Buffer.from(s, 'latin1');
  const request = rawRequestText(r, target);
  const one = (label: string, data: string | Buffer, end = true): RawCase => ({ lane: 'raw', segments: [typeof data === 'string' ? text(data) : data], gapMs: 0, end, label });
  switch (r.int(0, 21)) {
    case 0: case 1:
      return one('random bytes', r.bytes(r.int(1, 3000)));
    case 2:
      return one('random bytes after a method', Buffer.concat([text(r.pick(['GET ', 'POST /pub/a ', 'GET / HTTP/1.1\r\n'])), r.bytes(r.int(1, 500))]));
    case 3:
      return one('HTTP/0.9', r.pick(['GET /\r\n', 'GET /healthz\r\n\r\n', 'GET /sub/a\n']));
    case 4: {
      const full = `${request}${CRLF}`;
      return one('half request', full.slice(0, r.int(1, full.length - 2)));
    }
    case 5:
      return one('absurd Content-Length', `POST ${target.prefix}/pub/news HTTP/1.1${CRLF}Host: x${CRLF}Content-Length: ${r.pick(['99999999999999999999', '-1', '1e3', '0x10', ' 5', '5 5', '18446744073709551616', '4294967296', '3', '1000000'])}${CRLF}${CRLF}abc`);
    case 6:
      return one('two Content-Lengths', `POST ${target.prefix}/pub/news HTTP/1.1${CRLF}Host: x${CRLF}Content-Length: 3${CRLF}Content-Length: 4${CRLF}${CRLF}abcd`);
    case 7:
      return one('Content-Length and chunked', `POST ${target.prefix}/send HTTP/1.1${CRLF}Host: x${CRLF}Content-Length: 3${CRLF}Transfer-Encoding: chunked${CRLF}${CRLF}3${CRLF}abc${CRLF}0${CRLF}${CRLF}`);
    case 8: {
      const chunk = r.pick(['zz\r\nabc\r\n0\r\n\r\n', 'ffffffffffffffffff\r\nabc', '3\r\nabcdef\r\n0\r\n\r\n', '3abc\r\n', '-1\r\n', '3\nabc\n0\n\n', '0\r\nTrailer: \u0000\r\n\r\n', `1;${'e'.repeat(r.int(100, 20000))}\r\nx\r\n0\r\n\r\n`, '5\r\nhello\r\n']);
      return one('chunked garbage', `POST ${target.prefix}/pub/${r.pick(CHANNEL_POOL)} HTTP/1.1${CRLF}Host: x${CRLF}Transfer-Encoding: ${r.pick(['chunked', 'gzip, chunked', 'chunked, gzip', 'identity', 'chunk'])}${CRLF}${CRLF}${chunk}`);
    }
    case 9: {
      const bad = r.pick(['GET  / HTTP/1.1', 'GET / HTTP/9.9', 'GET / HTTP/1.1 extra', 'get / HTTP/1.1', 'GET\t/ HTTP/1.1', ' GET / HTTP/1.1', 'GET / http/1.1', 'GET HTTP/1.1', 'GET / HTTP/1.', 'GET /sub/a HTTP/1.0', 'PRI * HTTP/2.0', 'OPTIONS * HTTP/1.1', 'GET http://example.test/healthz HTTP/1.1', 'CONNECT 127.0.0.1:1 HTTP/1.1', 'GET /healthz HTTP/1.1']);
      return one('odd request line', `${bad}${CRLF}Host: x${CRLF}${CRLF}`);
    }
    case 10: {
      const raw = r.pick(['/pub/a\u0000b', '/sub/\u00e9t\u00e9', '/sub/a b', '/sub/..', '/pub/\u{1f600}', '/\u0007', `/sub/${'\u00ff'.repeat(10)}`]);
      return one('raw bytes in the path', Buffer.concat([text('GET '), Buffer.from(raw, 'utf8'), text(` HTTP/1.1${CRLF}Host: x${CRLF}${CRLF}`)]));
    }
    case 11:
      return one('path over 16 KiB', `GET /sub/${'a'.repeat(r.int(16 * 1024, 20 * 1024))} HTTP/1.1${CRLF}Host: x${CRLF}${CRLF}`);
    case 12: {
      const bad = r.pick(['NoColon', 'Bad Name: x', 'X-A : x', ' folded: x', 'X-A: a\r\n b', 'X-A: a\u0000b', ': empty', 'X-\u00e9: x', 'X-A: \u007f']);
      return one('broken header', `${request}${bad}${CRLF}${CRLF}`);
    }
    case 13:
      return one('LF line endings', `${request.replace(/\r\n/g, '\n')}\n`);
    case 14:
      return one('no Host', `GET ${target.prefix}/healthz HTTP/1.1${CRLF}${CRLF}`);
    case 15:
      return one('pipelined', `${request}${CRLF}${request}${CRLF}GET ${target.prefix}/healthz HTTP/1.1${CRLF}Host: x${CRLF}${CRLF}`);
    case 16:
      return one('pipelined then garbage', Buffer.concat([text(`GET ${target.prefix}/healthz HTTP/1.1${CRLF}Host: x${CRLF}${CRLF}`), r.bytes(r.int(1, 100))]));
    case 17:
      return one('headers over 16 KiB', `${request}X-Huge: ${'h'.repeat(r.int(17 * 1024, 30 * 1024))}${CRLF}${CRLF}`);
    case 18:
      return one('upgrade', `GET ${target.prefix}/sub/news HTTP/1.1${CRLF}Host: x${CRLF}Connection: Upgrade${CRLF}Upgrade: ${r.pick(['websocket', 'h2c', 'x'])}${CRLF}${CRLF}`);
    case 19:
      return one('Expect', `POST ${target.prefix}/pub/news HTTP/1.1${CRLF}Host: x${CRLF}Expect: ${r.pick(['100-continue', 'nonsense'])}${CRLF}Content-Length: 2${CRLF}${CRLF}hi`);
    case 20: {
      // A request that stops halfway and stays open: the server's own timeouts must close it.
      const full = `${request}${CRLF}`;
      return one('half request left open', full.slice(0, r.int(1, full.length - 2)), false);
    }
    default: {
      // Bytes in small pieces: a request the parser sees a few bytes at a time.
      const full = text(`${request}${CRLF}`);
      const segments: Buffer[] = [];
      for (let at = 0; at < full.length; ) {
        const size = r.int(1, 20);
        segments.push(full.subarray(at, at + size));
        at += size;
      }
      return { lane: 'raw', segments, gapMs: 1, end: true, label: 'trickled request' };
    }
  }
}

export function describeCase(c: FuzzCase): string {
  const cut = (s: string) => (s.length > 160 ? `${s.slice(0, 160)}...(${s.length})` : s);
  if (c.lane === 'raw') return `raw ${c.label}: ${JSON.stringify(cut(Buffer.concat(c.segments as Buffer[]).toString('latin1')))}${c.end ? '' : ' (left open)'}`;
  const entries = Object.entries(c.headers);
  const many = entries.filter(([k]) => k.startsWith('X-Many-')).length;
  const headers = entries.filter(([k]) => !k.startsWith('X-Many-')).map(([k, v]) => `${k}: ${cut(JSON.stringify(v))}`).join(' | ') + (many > 0 ? ` | ...${many} X-Many-n headers` : '');
  return `${c.method} ${cut(c.path)} [${headers}]${c.body === undefined ? '' : ` body ${c.body.length}B${c.chunked ? ' chunked' : ''}: ${JSON.stringify(cut(c.body.toString('latin1')))}`}`;
}
