/** Collector URLs as they may be shown: no credentials, no query string (tokens live there). */

/** A URL safe to print: no user name, password or query string (defined in the model, where the diagnosis uses it too). */
export { redactUrl } from '../model/redact.js';
