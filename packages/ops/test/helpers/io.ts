import type { CliIo } from "../../src/cli";
import { TEST_CLIENT_CONFIG } from "./aws";

/** CLI surroundings that capture what main prints. */
export function captureIo(overrides: Partial<CliIo> = {}) {
  const out = { stdout: "", stderr: "" };
  const io: CliIo = {
    stdout: { write: (text: string) => (out.stdout += text) },
    stderr: { write: (text: string) => (out.stderr += text) },
    env: {},
    clientConfig: TEST_CLIENT_CONFIG,
    today: new Date("2025-06-01T12:00:00Z"),
    ...overrides,
  };
  return { out, io };
}
