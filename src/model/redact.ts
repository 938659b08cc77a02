/**
 * Secrets out of text gostall shows or exports: URLs lose their user name, password and
 * query string (tokens travel in both: https://user:token@host, ?access_token=…). Lives in
 * the model so every layer above (diagnose evidence, spans, endpoint messages) uses one.
 */

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

/** scheme://[userinfo@]rest-of-URL inside free text, up to whitespace or a quote. */
const URL_IN_TEXT = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s'"<>`]*)/gi;

/**
 * Text with the credentials of every URL in it removed: "user:pw@" becomes "REDACTED@",
 * and a query string becomes "?REDACTED". Works on text that is not a valid URL too
 * (git prints URLs inside quotes, Go after a colon), so it does not parse, it cuts.
 */
export function redactUrlsInText(text: string): string {
  return text.replace(URL_IN_TEXT, (_m, scheme: string, rest: string) => {
    let r = rest;
    const slash = r.search(/[/?#]/);
    const authority = slash === -1 ? r : r.slice(0, slash);
    const at = authority.lastIndexOf('@');
    if (at !== -1) r = `REDACTED${r.slice(at)}`;
    const q = r.indexOf('?');
    if (q !== -1) r = `${r.slice(0, q)}?REDACTED`;
    return `${scheme}${r}`;
  });
}
