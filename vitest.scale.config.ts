import { defineConfig } from "vitest/config";
import base from "./vitest.config";

// The scale tests (`npm run test:scale`): a full 13,000-granule day takes far longer than the rest of
// `npm test` together on a 2-core machine, so it runs on its own (see docs/reliability.md).
const { projects: _projects, ...shared } = base.test ?? {};

export default defineConfig({
  test: {
    ...shared,
    include: ["test/scale/**/*.test.ts"],
    exclude: ["**/node_modules/**"],
    testTimeout: 3_600_000,
  },
});
