// Entry point for the fault fixtures: import from 'test/support/faults/index.js'.
export * from './common.js';
export * from './cgroups.js';
export * from './slowFuse.js';
export * from './throttledLoop.js';
export * from './cpuQuota.js';
export * from './otherUser.js';
export * from './inotifyLimit.js';
export * from './tcpFaults.js';
export * from './goModule.js';
