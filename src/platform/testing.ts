// Temporary alias while the console's browser test moves to src/testing.ts (the harness sits above modules).
export { startTestServer } from '../testing.ts';
