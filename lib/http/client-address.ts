// Which client a request came from, believing only trusted proxies (docs/protocol.md, "Behind a reverse proxy").
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import { createAddressSet } from './address';

/** Where a request came from, as far as holdpush may believe it (docs/protocol.md, "Behind a reverse proxy"). */
export interface Client {
  /**
   * The peer's address, or the one trusted proxies forwarded; undefined when it is unknown (a
   * trusted proxy forwarded something that is not an address, or the socket has gone).
   */
  readonly address: string | undefined;
  /**
   * The request carries `Forwarded`, `X-Forwarded-For` or `X-Real-IP` but its peer is not a
   * trusted proxy: it came through a proxy whose client is unknown.
   */
  readonly viaUntrustedProxy: boolean;
}

export type ClientOf = (req: IncomingMessage) => Client;

/** What the word `loopback` stands for in `--trust-proxy`. */
const LOOPBACK = ['127.0.0.0/8', '::1'];

/** The `--trust-proxy` list as addresses and CIDRs, with `loopback` spelled out. */
export function expandTrustList(entries: readonly string[]): string[] {
  return entries.flatMap((entry) => (entry.trim() === 'loopback' ? LOOPBACK : [entry]));
}

/**
 * One hop of a forwarding header as a plain address: `192.0.2.1`, `192.0.2.1:80`, `2001:db8::1`,
 * `[2001:db8::1]` or `[2001:db8::1]:80`; null for anything else (`unknown`, `_hidden`, zones, junk).
 */
export function parseHop(text: string): string | null {
  const hop = text.trim();
  let address = hop;
  if (hop.startsWith('[')) {
    const close = hop.indexOf(']');
    if (close < 0 || !/^(?::\d{1,5})?$/.test(hop.slice(close + 1))) return null;
    address = hop.slice(1, close);
    if (isIP(address) !== 6) return null;
  } else if (isIP(hop) === 0) {
    // Only IPv4 may carry a port without brackets: in `2001:db8::1:80` the port cannot be told apart.
    const port = /^([\d.]+):\d{1,5}$/.exec(hop);
    if (port === null || isIP(port[1] as string) !== 4) return null;
    address = port[1] as string;
  }
  return address.includes('%') ? null : address;
}

/** The hops of `X-Forwarded-For`, nearest the client first. */
export function xForwardedForHops(header: string): string[] {
  return header.split(',');
}

/**
 * The `for=` values of an RFC 7239 `Forwarded` header, one per element, nearest the client
 * first; an element without `for=` is an empty hop (it cannot be believed either).
 */
export function forwardedHops(header: string): string[] {
  const hops: string[] = [];
  let hop = '';
  let name = '';
  let value = '';
  let inValue = false;
  let quoted = false;
  for (let i = 0; i < header.length; i++) {
    const c = header[i] as string;
    if (quoted) {
      if (c === '\\' && i + 1 < header.length) value += header.charAt(++i);
      else if (c === '"') quoted = false;
      else value += c;
      continue;
    }
    if (c === '"' && inValue) quoted = true;
    else if (c === '=' && !inValue) inValue = true;
    else if (c === ';' || c === ',') {
      if (name.trim().toLowerCase() === 'for') hop = value.trim();
      name = '';
      value = '';
      inValue = false;
      if (c === ',') {
        hops.push(hop);
        hop = '';
      }
    } else if (inValue) value += c;
    else name += c;
  }
  if (name.trim().toLowerCase() === 'for') hop = value.trim();
  hops.push(hop);
  return hops;
}

/**
 * The right-most hop that is not a trusted proxy; the left-most when all of them are; undefined
 * when a hop on the way is not an address (a trusted proxy said it does not know the client).
 */
export function pickClient(hops: readonly string[], trusted: (address: string) => boolean): string | undefined {
  let nearest: string | undefined;
  for (let i = hops.length - 1; i >= 0; i--) {
    const address = parseHop(hops[i] as string);
    if (address === null) return undefined;
    if (!trusted(address)) return address;
    nearest = address;
  }
  return nearest;
}

/**
 * Reads each request's client address. `X-Forwarded-For` is read when present (nginx and most
 * balancers append to it), else `Forwarded`; `X-Real-IP` only says that a proxy was there.
 */
export function createClientOf(trustProxy: readonly string[]): ClientOf {
  const trusted = createAddressSet(expandTrustList(trustProxy));
  const trustsNobody = trustProxy.length === 0;
  // A request's answer is wanted by its log line and again by a publish check.
  const known = new WeakMap<IncomingMessage, Client>();
  return (req) => {
    const headers = req.headers;
    const peer = req.socket.remoteAddress;
    const xff = headers['x-forwarded-for'];
    const forwarded = headers.forwarded;
    // The common request carries none of the three: it costs three header lookups, no parsing.
    if (xff === undefined && forwarded === undefined && headers['x-real-ip'] === undefined) return { address: peer, viaUntrustedProxy: false };
    if (trustsNobody || !trusted(peer)) return { address: peer, viaUntrustedProxy: true };
    let client = known.get(req);
    if (client === undefined) {
      // node:http joins repeated lines with ', '; the server's header limit bounds the walk.
      // X-Real-IP alone: a proxy was there and did not say who its client is in a header read here.
      const hops = xff !== undefined ? xForwardedForHops(String(xff)) : forwarded !== undefined ? forwardedHops(String(forwarded)) : [''];
      client = { address: pickClient(hops, trusted), viaUntrustedProxy: false };
      known.set(req, client);
    }
    return client;
  };
}
