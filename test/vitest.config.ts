import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // many files mostly wait (child processes, gammu's own timeouts, real-time serving, wall
    // guards of real brokers): more forks than cores keep the wall time down
    maxWorkers: 4,
    setupFiles: ['test/setup.ts'],
  },
});
