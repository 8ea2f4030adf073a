import { describe, expect, it } from "vitest";
import { underFault } from "../src/lambda";

describe("underFault", () => {
  it("ends an invocation at killAfterMs with Lambda.Unknown, whatever the handler does", async () => {
    const never = new Promise<string>(() => undefined);
    await expect(underFault({ killAfterMs: 20 }, 900_000, () => never)).rejects.toMatchObject({
      name: "Lambda.Unknown",
      message: expect.stringContaining("signal: killed"),
    });
  });

  it("fails with Task timed out when the held answer comes after the timeout, though the work is done", async () => {
    let done = false;
    const work = async () => {
      done = true;
      return "answer";
    };
    await expect(underFault({ delayMs: 200 }, 50, work)).rejects.toMatchObject({
      name: "Lambda.Unknown",
      message: expect.stringContaining("Task timed out"),
    });
    expect(done).toBe(true);
  });

  it("passes the answer of an invocation no fault picked, or one that ends in time", async () => {
    await expect(underFault(undefined, 50, async () => "untouched")).resolves.toBe("untouched");
    await expect(underFault({ killAfterMs: 5000 }, 900_000, async () => "quick")).resolves.toBe("quick");
  });
});
