#!/usr/bin/env node
// The CLI is TypeScript run in place (like `npm run local`): tsx compiles it on load, no build step.
import { register } from "tsx/esm/api";

register();
const { main } = await import("../src/cli.ts");
process.exitCode = await main(process.argv.slice(2));
