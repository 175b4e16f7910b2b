import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import react from '@vitejs/plugin-react';
import { defineConfig, type Plugin } from 'vite';

// @ts-expect-error: a plain ES module without types
import { sourceHash } from './scripts/source-hash.mjs';

/** Writes dist/build-info.json: the hash of the sources this build was made from (checked by
 * the server's tests, so a committed dist/ cannot silently fall behind its sources). */
function buildInfo(): Plugin {
  let outDir = 'dist';
  return {
    name: 'agent-runtime-build-info',
    apply: 'build',
    configResolved(config) {
      outDir = config.build.outDir;
    },
    closeBundle() {
      const info = { sourceHash: sourceHash() as string };
      writeFileSync(`${outDir}/build-info.json`, `${JSON.stringify(info, null, 2)}\n`);
    },
  };
}

export default defineConfig({
  plugins: [react(), buildInfo()],
  resolve: {
    // The UI is built from the package's sources, so it always ships the current hooks.
    alias: {
      '@agent-runtime/react': fileURLToPath(new URL('../packages/react/src/index.ts', import.meta.url)),
    },
    dedupe: ['react', 'react-dom'],
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
    // Stable file names per content: the server caches /assets/* for ever.
    assetsDir: 'assets',
  },
  server: {
    // `npm run dev` against a server on :8080.
    proxy: {
      '/api': { target: 'http://127.0.0.1:8080', ws: true },
      '/healthz': 'http://127.0.0.1:8080',
    },
  },
});
