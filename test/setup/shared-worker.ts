import { createRequire } from "node:module";
import { afterAll, beforeAll, vi } from "vitest";

/**
 * Setup file of the projects whose files share a worker (isolate: false, vitest.config.ts): what a
 * file changes process-wide is put back when it ends, so the next file of the worker starts as it
 * would in a process of its own. A file that leaves the environment or the cwd changed fails, naming
 * what it left: restoring the variables is not enough once a module made in the file read them (the
 * functions' logger keeps the log level it was made with), so such a file belongs in a project that
 * gives each file its own process.
 */

// aws-sdk-client-mock stubs with sinon's default sandbox: `mockClient(SFNClient)` replaces the send of
// every SFNClient in the process until restored. Its own sinon, whichever copy that is.
const sinon = createRequire(createRequire(import.meta.url).resolve("aws-sdk-client-mock"))("sinon") as {
  restore(): void;
};

let env: Record<string, string | undefined>;
let cwd: string;

beforeAll(() => {
  env = { ...process.env };
  cwd = process.cwd();
});

afterAll(() => {
  sinon.restore();
  vi.useRealTimers();
  const left: string[] = [];
  for (const key of new Set([...Object.keys(env), ...Object.keys(process.env)])) {
    // Powertools adds itself to the SDK's user agent when first imported: once, and harmless.
    if (process.env[key] === env[key] || key === "AWS_SDK_UA_APP_ID") continue;
    left.push(`process.env.${key}`);
    if (env[key] === undefined) delete process.env[key];
    else process.env[key] = env[key];
  }
  if (process.cwd() !== cwd) {
    left.push(`the cwd (${process.cwd()})`);
    process.chdir(cwd);
  }
  if (left.length > 0) {
    throw new Error(`this file changed ${left.join(", ")} for the next file of its worker: restore it`);
  }
});
