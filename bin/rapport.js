#!/usr/bin/env node
// The `rapport` command. The server is TypeScript run by Node's own type stripping, so Node 24 or newer is required.
const [major] = process.versions.node.split('.').map(Number);
if (major < 24) {
  console.error(`Rapport needs Node.js 24 or newer; this is ${process.version}.`);
  process.exit(1);
}
await import('../src/main.ts');
