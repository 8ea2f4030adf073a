import { describe, expect, it } from "vitest";
import { LambdaTimeoutError, underKill } from "../src/kills";

describe("underKill", () => {
  it("fails a killed-before invocation with Lambda.Unknown without running the handler", async () => {
    let ran = false;
    const error = await underKill("before", 900, async () => {
      ran = true;
    }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(LambdaTimeoutError);
    expect(error).toMatchObject({ name: "Lambda.Unknown", message: "Task timed out after 900.00 seconds" });
    expect(ran).toBe(false);
  });

  it("runs a killed-after invocation to its end and loses its answer", async () => {
    let ran = false;
    await expect(
      underKill("after", 60, async () => {
        ran = true;
        return "done";
      }),
    ).rejects.toMatchObject({ name: "Lambda.Unknown" });
    expect(ran).toBe(true);
  });

  it("ends an invocation that outlives its timeout, and passes one that does not", async () => {
    const never = new Promise<string>(() => undefined);
    await expect(underKill({ timeoutMs: 50 }, 900, () => never)).rejects.toMatchObject({
      name: "Lambda.Unknown",
      message: "Task timed out after 0.05 seconds",
    });
    await expect(underKill({ timeoutMs: 5000 }, 900, async () => "quick")).resolves.toBe("quick");
    await expect(underKill(undefined, 900, async () => "untouched")).resolves.toBe("untouched");
  });
});
