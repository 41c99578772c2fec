import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Namespace tests exec real plugins; a slow CI machine needs headroom, never a timed assertion.
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
