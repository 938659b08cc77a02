/** Collector URLs as they may be shown: no credentials, no query string (tokens live there). */

/** A URL safe to print: no user name, password or query string. */
export function redactUrl(raw: string): string {
  try {
    const u = new URL(raw);
    if (u.username || u.password) { u.username = 'REDACTED'; u.password = ''; }
    u.search = '';
    return u.toString();
  } catch {
    return '<invalid URL>';
  }
}
