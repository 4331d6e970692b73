// Run by `npm install` (the `prepare` script): builds the console into web/dist so `npm start` serves it at once.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const config = fileURLToPath(new URL('../web/vite.config.ts', import.meta.url));
if (!existsSync(config)) {
  console.log('rapport: no console sources found; skipping the console build.');
} else {
  const { build } = await import('vite');
  await build({ configFile: config, logLevel: 'warn' });
  console.log('rapport: console built into web/dist');
}
