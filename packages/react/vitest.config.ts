import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    environment: 'jsdom',
    include: ['test/**/*.test.{ts,tsx}'],
    // The reconnect tests use fake timers; a hung test should fail, not stall CI.
    testTimeout: 20_000,
  },
});
