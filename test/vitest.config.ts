import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // generous: CPU-heavy property tests on a loaded 2-core machine; a hang still fails
    testTimeout: 120_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // many files mostly wait (child processes, gammu's own timeouts, real-time serving, wall
    // guards of real brokers): more forks than cores keep the wall time down
    maxWorkers: 3,
    setupFiles: ['test/setup.ts'],
  },
});
