// The error codes of JSON error bodies, and how client input is echoed in their words.

/** Error codes of the JSON error bodies (`{"error": code, "message": words}`). */
export type ErrorCode =
  | 'bad_request'
  | 'bad_channel'
  | 'bad_uid'
  | 'bad_position'
  | 'bad_body'
  | 'body_consumed'
  | 'missing_message'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'method_not_allowed'
  | 'timeout'
  | 'gone'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'headers_too_large'
  | 'expectation_failed'
  | 'too_many_subscribers'
  | 'too_many_channels'
  | 'store_unavailable'
  | 'auth_unavailable'
  | 'shutting_down'
  | 'internal';

/** Longest stretch of client input echoed back in an error message. */
const ECHO_LIMIT = 80;

export function echo(text: string): string {
  const clean = text.replace(/[\u0000-\u001f\u007f]/g, '?');
  return clean.length > ECHO_LIMIT ? `${clean.slice(0, ECHO_LIMIT)}...` : clean;
}
