import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, utimes, writeFile } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import { DataFolderInUseError } from "../../src/errors";
import { LOCK_FILE_NAME, LOCK_TAKEOVER_FILE_NAME, type LockHolder, lockDataFolder } from "../../src/run/lock";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function folder(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "hls-s2-lock-unit-"));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A lock file as another run would have left it. */
async function writeLock(dir: string, holder: Partial<LockHolder>): Promise<string> {
  const content = `${JSON.stringify({
    pid: 1,
    host: hostname(),
    since: "2026-12-01T10:00:00.000Z",
    token: randomUUID(),
    ...holder,
  })}\n`;
  await writeFile(join(dir, LOCK_FILE_NAME), content);
  return content;
}

async function readHolder(dir: string): Promise<LockHolder> {
  return JSON.parse(await readFile(join(dir, LOCK_FILE_NAME), "utf8")) as LockHolder;
}

/** Another live process: what a run in a second terminal is. */
function sleeper(): ChildProcess {
  const child = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" });
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });
  return child;
}

async function deadPid(): Promise<number> {
  const child = sleeper();
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGKILL");
  await exited;
  return child.pid!;
}

describe("lockDataFolder", () => {
  it("writes our PID into the folder's lock file and removes it on release", async () => {
    const dir = await folder();

    const lock = await lockDataFolder(join(dir, "new-folder"));

    expect(await readHolder(join(dir, "new-folder"))).toMatchObject({ pid: process.pid, host: hostname() });
    await lock.release();
    await lock.release();
    expect(await readdir(join(dir, "new-folder"))).toEqual([]);
    const again = await lockDataFolder(join(dir, "new-folder"));
    await again.release();
  });

  it("refuses a folder another live process holds, naming its PID, and leaves its lock as it was", async () => {
    const dir = await folder();
    const other = sleeper();
    const content = await writeLock(dir, { pid: other.pid! });

    const refused = lockDataFolder(dir);

    await expect(refused).rejects.toBeInstanceOf(DataFolderInUseError);
    await expect(refused).rejects.toMatchObject({
      name: "DataFolderInUseError",
      pid: other.pid,
      message: expect.stringContaining(`data folder ${dir} in use by PID ${other.pid} since`),
    });
    expect(await readFile(join(dir, LOCK_FILE_NAME), "utf8")).toBe(content);
  });

  it("takes over the lock of a run that died", async () => {
    const dir = await folder();
    await writeLock(dir, { pid: await deadPid() });

    const lock = await lockDataFolder(dir);

    expect((await readHolder(dir)).pid).toBe(process.pid);
    await lock.release();
  });

  it("takes over a lock naming this process's PID that it does not hold (a PID reused after a restart)", async () => {
    const dir = await folder();
    await writeLock(dir, { pid: process.pid });

    const lock = await lockDataFolder(dir);

    expect((await readHolder(dir)).token).toBe(lock.holder.token);
    await lock.release();
  });

  it("takes over an unreadable lock file once it is older than a write takes", async () => {
    const dir = await folder();
    await writeFile(join(dir, LOCK_FILE_NAME), "");
    const old = new Date(Date.now() - 60_000);
    await utimes(join(dir, LOCK_FILE_NAME), old, old);

    const lock = await lockDataFolder(dir);

    expect((await readHolder(dir)).pid).toBe(process.pid);
    await lock.release();
  });

  it("refuses a second lock in the same process and a lock from another host, which it cannot probe", async () => {
    const dir = await folder();
    const lock = await lockDataFolder(dir);
    await expect(lockDataFolder(dir)).rejects.toMatchObject({ pid: process.pid });
    await lock.release();

    await writeLock(dir, { pid: await deadPid(), host: "another-host" });
    await expect(lockDataFolder(dir)).rejects.toMatchObject({
      message: expect.stringContaining("on host another-host"),
    });
  });

  it("gives a contended stale lock to exactly one taker", async () => {
    const dir = await folder();
    await writeLock(dir, { pid: await deadPid() });

    const results = await Promise.allSettled(Array.from({ length: 6 }, () => lockDataFolder(dir)));

    const won = results.filter((r) => r.status === "fulfilled");
    expect(won).toHaveLength(1);
    for (const lost of results.filter((r) => r.status === "rejected")) {
      expect(lost.reason).toBeInstanceOf(DataFolderInUseError);
    }
    const winner = (won[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof lockDataFolder>>>).value;
    expect((await readHolder(dir)).token).toBe(winner.holder.token);
    await winner.release();
    expect(await readdir(dir)).toEqual([]);
  });

  it("leaves a stale lock alone while another taker holds the takeover guard, then takes it", async () => {
    const dir = await folder();
    const stale = await writeLock(dir, { pid: await deadPid() });
    await writeFile(join(dir, LOCK_TAKEOVER_FILE_NAME), "12345");

    let settled = false;
    const taking = lockDataFolder(dir).finally(() => {
      settled = true;
    });
    await sleep(300);

    expect(settled).toBe(false);
    expect(await readFile(join(dir, LOCK_FILE_NAME), "utf8")).toBe(stale);
    await rm(join(dir, LOCK_TAKEOVER_FILE_NAME));
    const lock = await taking;
    expect((await readHolder(dir)).token).toBe(lock.holder.token);
    await lock.release();
  });

  it("clears a takeover guard left by a crash long ago", async () => {
    const dir = await folder();
    await writeLock(dir, { pid: await deadPid() });
    await writeFile(join(dir, LOCK_TAKEOVER_FILE_NAME), "12345");
    const old = new Date(Date.now() - 60_000);
    await utimes(join(dir, LOCK_TAKEOVER_FILE_NAME), old, old);

    const lock = await lockDataFolder(dir);

    expect(await readdir(dir)).toEqual([LOCK_FILE_NAME]);
    await lock.release();
  });

  it("does not remove, on release, a lock file that is no longer its own", async () => {
    const dir = await folder();
    const lock = await lockDataFolder(dir);
    const replaced = await writeLock(dir, { pid: sleeper().pid! });

    await lock.release();

    expect(await readFile(join(dir, LOCK_FILE_NAME), "utf8")).toBe(replaced);
  });

  it("rejects a missing folder name up front", async () => {
    await expect(lockDataFolder("")).rejects.toMatchObject({ name: "InvalidInputError", field: "dataDir" });
  });
});
