// The signature of a delivery: HMAC-SHA256 of the exact body bytes, keyed by the secret.
import { createHmac } from 'node:crypto';

/** The `X-Holdpush-Signature` value of `body`. */
export function signature(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}
