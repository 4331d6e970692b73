import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

const webRoot = fileURLToPath(new URL('.', import.meta.url));
const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const apiServer = 'http://127.0.0.1:3000';

// The console is served by the Rapport server from web/dist; in development Vite proxies the API to it instead.
export default defineConfig({
  root: webRoot,
  plugins: [react()],
  build: {
    outDir: fileURLToPath(new URL('./dist', import.meta.url)),
    emptyOutDir: true,
    rolldownOptions: {
      output: {
        // Libraries change far less often than the console: separate chunks stay cached across releases.
        codeSplitting: {
          groups: [
            { name: 'react', test: /node_modules[\\/](react|react-dom|scheduler|react-router)[\\/]/ },
            {
              name: 'mantine',
              test: /node_modules[\\/](@mantine|@floating-ui|react-remove-scroll|react-number-format)/,
            },
            { name: 'vendor', test: /node_modules/ },
          ],
        },
      },
    },
  },
  server: {
    // The API contract lives in ../src/modules/*/*.schemas.ts, outside the Vite root.
    fs: { allow: [repoRoot] },
    proxy: {
      '/api': apiServer,
      '/health': apiServer,
    },
  },
  preview: {
    proxy: {
      '/api': apiServer,
      '/health': apiServer,
    },
  },
});
