/** Helpers for the deployment tests: unit-file directives, the capability list in every form. */
import { fileURLToPath } from 'node:url';

export const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The last value of each directive of a systemd unit (later assignments override earlier ones). */
export function unitDirectives(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';') || line.startsWith('[')) continue;
    const eq = line.indexOf('=');
    if (eq > 0) out.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return out;
}

/** Every value of one directive, in order (SystemCallFilter= may appear several times). */
export function unitDirectiveValues(text: string, key: string): string[] {
  return text.split('\n').map((l) => l.trim()).filter((l) => l.startsWith(`${key}=`)).map((l) => l.slice(key.length + 1));
}
