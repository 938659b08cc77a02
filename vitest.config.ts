import { defineConfig } from 'vitest/config';

// Two projects, so that the part of the suite that needs nothing but Node runs anywhere in seconds:
// - unit: recorded input, pure modules, fake tracers; no root, no kernel features.
// - kernel: files named *.kernel.test.ts load eBPF programs, mount filesystems, change cgroups,
//   sysctls and users, or run containers. They share that system state and the machine's two CPUs,
//   so they run one file at a time; a preflight fails the run (never skips it) when this machine
//   cannot run them.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: ['test/**/*.kernel.test.ts', '**/node_modules/**'],
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'kernel',
          include: ['test/**/*.kernel.test.ts'],
          globalSetup: ['test/support/kernel-preflight.ts'],
          // `gostall run` asks an agent on this socket first: a host agent on the default
          // /run/gostall/run.sock must not take the runs the tests mean to trace on their own
          // (tests that want an agent start one and name its socket).
          env: { GOSTALL_AGENT_SOCKET: '/tmp/gostall-kernel-tests/run.sock' },
          fileParallelism: false,
          testTimeout: 180_000,
          hookTimeout: 180_000,
        },
      },
    ],
    reporters: ['default'],
  },
});
