// Checking a URL that holdpush itself will request (the app's `--auth-url`).

/** Why `text` is not an absolute http:// or https:// URL without credentials; undefined when it is one. */
export function httpUrlProblem(text: string): string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return `must be an http:// or https:// URL, got ${JSON.stringify(text.slice(0, 80))}`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `must be an http:// or https:// URL, got ${JSON.stringify(url.protocol)}`;
  // Credentials in the URL would become an Authorization header that the client's own replaces.
  if (url.username !== '' || url.password !== '') return 'must not carry a user name or password';
  return undefined;
}
