// The options that let the app decide, and their checks.
import { httpUrlProblem } from '../http/http-url';
import type { HoldpushOptions } from '../options';

/** The options that let the app decide (docs/authorization.md). */
export type AuthSettings = Pick<HoldpushOptions, 'authUrl' | 'authTimeout' | 'authCache' | 'authorize'>;

/** Checks the authorization options; a programmer's mistake throws a TypeError naming the option. */
export function checkAuthSettings(o: AuthSettings): void {
  if (o.authUrl !== undefined) {
    const problem = typeof o.authUrl === 'string' ? httpUrlProblem(o.authUrl) : 'must be a string';
    if (problem !== undefined) throw new TypeError(`authUrl ${problem}`);
  }
  if (typeof o.authTimeout !== 'number' || !Number.isFinite(o.authTimeout) || o.authTimeout <= 0) {
    throw new TypeError(`authTimeout must be a positive number of seconds, got ${String(o.authTimeout)}`);
  }
  if (typeof o.authCache !== 'number' || !Number.isFinite(o.authCache) || o.authCache < 0) {
    throw new TypeError(`authCache must be a number of seconds, 0 or more, got ${String(o.authCache)}`);
  }
  if (o.authorize !== undefined && typeof o.authorize !== 'function') throw new TypeError('authorize must be a function');
  if (o.authorize !== undefined && o.authUrl !== undefined) throw new TypeError('authorize and authUrl: give one of them (both ask the app the same questions)');
}
