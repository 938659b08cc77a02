#!/usr/bin/env node
// the bundle of dist/src (rolldown.config.mjs): the same code, a fraction of the loading time
import { main } from '../dist/bundle/main.js';

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err) => { process.stderr.write(`gostall: internal error: ${err?.stack ?? err}\n`); process.exitCode = 70; },
);
