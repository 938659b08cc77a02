/**
 * The cause rules, one module per public cause id (docs/root-causes.md). Each module exports
 * ID, THRESHOLDS (with the measurement behind each) and rule.
 */
import type { Rule } from '../types.js';
import * as fsSlowMetadata from './fs-slow-metadata.js';
import * as fsSlowIo from './fs-slow-io.js';
import * as fsOversizedWalk from './fs-oversized-walk.js';
import * as fsSymlinkLoop from './fs-symlink-loop.js';
import * as fsPermissionDenied from './fs-permission-denied.js';
import * as fsWatchLimit from './fs-watch-limit.js';
import * as fsFdExhaustion from './fs-fd-exhaustion.js';
import * as schedUninterruptible from './sched-uninterruptible.js';
import * as cpuThrottled from './cpu-throttled.js';
import * as cpuContention from './cpu-contention.js';
import * as netSlowConnect from './net-slow-connect.js';
import * as netConnectFailed from './net-connect-failed.js';
import * as execFailed from './exec-failed.js';
import * as procOomKilled from './proc-oom-killed.js';
import * as goGorootInvalid from './go-goroot-invalid.js';
import * as goToolNotFound from './go-tool-not-found.js';
import * as goToolchainMismatch from './go-toolchain-mismatch.js';
import * as netDnsFailed from './net-dns-failed.js';
import * as netModuleFetchFailed from './net-module-fetch-failed.js';
import * as lspStall from './lsp-stall.js';
import * as goVcsStamping from './go-vcs-stamping.js';
import * as goCacheChurn from './go-cache-churn.js';

export const RULE_MODULES = [
  fsSlowMetadata, fsSlowIo, fsOversizedWalk, fsSymlinkLoop, fsPermissionDenied, fsWatchLimit, fsFdExhaustion,
  schedUninterruptible, cpuThrottled, cpuContention, netSlowConnect, netConnectFailed, execFailed, procOomKilled,
  goGorootInvalid, goToolNotFound, goToolchainMismatch, netDnsFailed, netModuleFetchFailed, lspStall, goVcsStamping, goCacheChurn,
] as const;

/** Every public cause id, in the order of the documentation. */
export const CAUSE_IDS: readonly string[] = RULE_MODULES.map((m) => m.ID);

export const RULES: Rule[] = RULE_MODULES.map((m) => m.rule);
