// A request's query: plain parameters read straight from the text, anything else through URLSearchParams.
import type { Query } from './router';

/** What `plainValue` cannot answer without decoding the whole query the way URLSearchParams does. */
const DECODE = Symbol('decode');

/** Printable ASCII without `+` (a space once decoded): the text a parameter's name is compared as. */
const PLAIN = /^[\x21-\x2a\x2c-\x7e]*$/;

/**
 * The value of the first `name=` of `text` (URLSearchParams' answer), or DECODE when a name
 * before it, or the value, needs more than percent-decoding of valid UTF-8.
 */
function plainValue(text: string, name: string): string | null | typeof DECODE {
  // URLSearchParams drops one leading '?' of its text.
  if (text.startsWith('?')) return DECODE;
  let start = 0;
  while (start <= text.length) {
    let end = text.indexOf('&', start);
    if (end < 0) end = text.length;
    if (end > start) {
      const eq = text.indexOf('=', start);
      const keyEnd = eq < 0 || eq > end ? end : eq;
      const key = text.slice(start, keyEnd);
      if (key.includes('%') || !PLAIN.test(key)) return DECODE;
      if (key === name) {
        const value = keyEnd === end ? '' : text.slice(keyEnd + 1, end);
        if (!PLAIN.test(value)) return DECODE;
        if (!value.includes('%')) return value;
        try {
          return decodeURIComponent(value);
        } catch {
          // A malformed escape or bytes that are not UTF-8: URLSearchParams keeps or replaces them.
          return DECODE;
        }
      }
    }
    start = end + 1;
  }
  return null;
}

/**
 * A request's query, parsed only as far as asked: a batch re-poll's `last_event_id` (and the
 * `token` every subscribe looks for) costs a walk over the text, not a URLSearchParams per
 * request. A query that needs full decoding gets one, once.
 */
export class RequestQuery implements Query {
  private params: URLSearchParams | undefined;

  constructor(private readonly text: string) {}

  get(name: string): string | null {
    if (this.params === undefined) {
      const value = plainValue(this.text, name);
      if (value !== DECODE) return value;
      this.params = new URLSearchParams(this.text);
    }
    return this.params.get(name);
  }

  toString(): string {
    this.params ??= new URLSearchParams(this.text);
    return this.params.toString();
  }
}
