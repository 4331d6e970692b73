// Completes package-lock.json with the other-platform binaries of optional dependencies (biome's CLI for macOS and
// Windows, msgpackr's native extractor …). The package mirror this project is built behind does not serve those
// packages, so npm leaves them out of the lock, and `npm ci` then refuses the lock as out of sync. Their version is
// the one the parent pins; os, cpu and libc follow from the package name. Run after any `npm install` that adds
// such a dependency:  node scripts/complete-lockfile.ts
import { readFileSync, writeFileSync } from 'node:fs';

const path = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(path, 'utf8')) as { packages: Record<string, Record<string, unknown>> };
const PLATFORM =
  /-(android|darwin|linux|win32|freebsd|openbsd|sunos|aix)-(x64|arm64|arm|ia32|ppc64|s390x|riscv64)(?:-(gnu|musl|msvc|gnueabihf))?$/;

let added = 0;
for (const [where, entry] of Object.entries(lock.packages)) {
  const optional = (entry.optionalDependencies ?? {}) as Record<string, string>;
  for (const [name, version] of Object.entries(optional)) {
    const nested = `${where}/node_modules/${name}`;
    const top = `node_modules/${name}`;
    if (lock.packages[top] || lock.packages[nested]) continue;
    const m = PLATFORM.exec(name);
    if (!m) continue;
    const [, os, cpu, abi] = m;
    const completed: Record<string, unknown> = {
      version: version.replace(/^[\^~]/, ''),
      cpu: [cpu],
      optional: true,
      os: [os],
    };
    if (entry.dev) completed.dev = true;
    if (abi === 'musl' || abi === 'gnu') completed.libc = [abi === 'gnu' ? 'glibc' : 'musl'];
    lock.packages[where === '' ? top : top] = completed;
    added++;
  }
}
const ordered: Record<string, Record<string, unknown>> = {};
for (const key of Object.keys(lock.packages).sort((a, b) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b)))) {
  ordered[key] = lock.packages[key] as Record<string, unknown>;
}
lock.packages = ordered;
writeFileSync(path, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`complete-lockfile: added ${added} optional platform entr${added === 1 ? 'y' : 'ies'}`);
