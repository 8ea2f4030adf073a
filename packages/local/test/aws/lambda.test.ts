import { describe, expect, it } from "vitest";
import { invokeLambda, type LocalLambdaContext, type LocalLambdaOptions } from "../../src/aws/lambda";

/** One invocation of a Download handler under `options`, its function's timeout as synthesized: 900 s. */
function invoke(
  handler: (event: unknown, context?: LocalLambdaContext) => Promise<unknown>,
  options: LocalLambdaOptions,
) {
  return invokeLambda({
    state: "Download",
    functionName: "Download",
    handler,
    payload: {},
    synthesizedTimeoutSeconds: 900,
    options,
  });
}

describe("invokeLambda", () => {
  it("ends an invocation at killAfterMs with Lambda.Unknown, whatever the handler does, and aborts its killed signal", async () => {
    let context: LocalLambdaContext | undefined;
    const never = (_event: unknown, given?: LocalLambdaContext) => {
      context = given;
      return new Promise<string>(() => undefined);
    };
    await expect(invoke(never, { onInvoke: () => ({ killAfterMs: 20 }) })).rejects.toMatchObject({
      name: "Lambda.Unknown",
      message: expect.stringContaining("signal: killed"),
    });
    expect(context?.killed.aborted).toBe(true);
    // The handler's clock is its function's timeout: a kill is not announced.
    expect(context?.getRemainingTimeInMillis()).toBeGreaterThan(800_000);
  });

  it("fails with Task timed out when the held answer comes after the timeout, though the work is done", async () => {
    let done = false;
    const work = async () => {
      done = true;
      return "answer";
    };
    await expect(
      invoke(work, { timeoutSeconds: { Download: 0.05 }, onInvoke: () => ({ delayMs: 200 }) }),
    ).rejects.toMatchObject({
      name: "Lambda.Unknown",
      message: expect.stringContaining("Task timed out after 0.05 seconds"),
    });
    expect(done).toBe(true);
  });

  it("ends an invocation as its timeout does when its timeoutSignal aborts, and aborts its killed signal", async () => {
    let context: LocalLambdaContext | undefined;
    const never = (_event: unknown, given?: LocalLambdaContext) => {
      context = given;
      return new Promise<string>(() => undefined);
    };
    const timeout = new AbortController();
    const ended = invoke(never, { onInvoke: () => ({ timeoutSignal: timeout.signal, killAfterMs: 60_000 }) });
    setTimeout(() => timeout.abort(), 20);
    await expect(ended).rejects.toMatchObject({
      name: "Lambda.Unknown",
      message: expect.stringContaining("Task timed out after 900.00 seconds"),
    });
    expect(context?.killed.aborted).toBe(true);
    // An invocation that ended first is not touched by a later abort.
    const later = new AbortController();
    await expect(
      invoke(async () => "done", { onInvoke: () => ({ timeoutSignal: later.signal }) }),
    ).resolves.toBe("done");
    later.abort();
  });

  it("passes the answer of an invocation no fault picked, or one that ends in time", async () => {
    await expect(invoke(async () => "untouched", {})).resolves.toBe("untouched");
    await expect(invoke(async () => "quick", { onInvoke: () => ({ killAfterMs: 5000 }) })).resolves.toBe(
      "quick",
    );
  });
});
