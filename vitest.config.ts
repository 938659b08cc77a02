import { defineConfig } from 'vitest/config';

// Real-kernel tests share system state (tracefs, cgroups, mounts, sysctls) and the two
// CPUs of the machine: files run one at a time so no test disturbs another's measurements.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    fileParallelism: false,
    testTimeout: 180_000,
    hookTimeout: 180_000,
    reporters: ['default'],
  },
});
