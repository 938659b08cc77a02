/**
 * `npm run soak [-- --minutes N]`: the agent soak alone (bench/soak.ts), not part of CI.
 * Default 60 minutes; writes .bench/soak.json and prints the summary and the per-minute curve.
 * Ctrl-C (or SIGTERM) ends it early; it still cleans up.
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { readConfig } from './config.js';
import { renderSoak, renderSoakCurve } from './report.js';
import { benchSoak } from './soak.js';

const { values } = parseArgs({ options: { minutes: { type: 'string' } }, strict: true });
const minutes = values.minutes !== undefined ? Number(values.minutes) : 60;
if (!Number.isInteger(minutes) || minutes < 1 || minutes > 24 * 60) {
  process.stderr.write('usage: npm run soak [-- --minutes N]   (N: whole minutes, 1 to 1440; default 60)\n');
  process.exit(2);
}
const cfg = { ...readConfig(), soakMinutes: minutes };
mkdirSync(cfg.outDir, { recursive: true });
// Ctrl-C or SIGTERM: the soak stops early and still cleans up (cgroup, state, workspace)
const stop = new AbortController();
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => stop.abort());
const results = await benchSoak(cfg, (line) => process.stderr.write(`${line}\n`), stop.signal);
writeFileSync(join(cfg.outDir, 'soak.json'), `${JSON.stringify(results, null, 2)}\n`, { mode: 0o600 });
process.stdout.write(`${renderSoak(results)}\n${renderSoakCurve(results)}`);
