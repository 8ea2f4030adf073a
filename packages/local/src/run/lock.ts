import { randomUUID } from "node:crypto";
import { readFileSync, unlinkSync } from "node:fs";
import { link, mkdir, readFile, stat, unlink, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { dirname, join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { InvalidInputError } from "@hls-s2/core/errors";
import { DataFolderInUseError } from "../errors";
import { processIsAlive } from "../process";

/** The lock file at the root of a data folder; it holds the holder's PID, host and start time as JSON. */
export const LOCK_FILE_NAME = "run.lock";
/** Held for the moment a stale lock is replaced, so only one taker removes it (see removeStale). */
export const LOCK_TAKEOVER_FILE_NAME = `${LOCK_FILE_NAME}.takeover`;

/** What a lock file says about the run that holds the folder. */
export interface LockHolder {
  pid: number;
  host: string;
  /** When the holder took the lock, ISO 8601. */
  since: string;
  /** Tells this holder's file from a later holder's with the same PID. */
  token: string;
}

/** A data folder held exclusively by this process until `release()`. */
export interface DataFolderLock {
  readonly dataDir: string;
  readonly lockFile: string;
  readonly holder: LockHolder;
  /** Removes the lock file if it is still ours; safe to call twice. */
  release(): Promise<void>;
}

// A lock file whose content cannot be read yet may be one being written by a filesystem without
// hard links (see createExclusive); after this long it is debris, not a run.
const UNREADABLE_GRACE_MS = 2_000;
// The takeover guard lives for the few milliseconds a stale lock is replaced; one older was left by a crash.
const TAKEOVER_GUARD_STALE_MS = 10_000;
const RETRY_DELAY_MS = 25;
const MAX_ATTEMPTS = 200;

/** Lock files this process holds, with the exact content it wrote (so release never removes another's). */
const held = new Map<string, string>();
/** Tokens of the locks this process holds or is taking: a lock with our PID and one of these is not stale. */
const ownTokens = new Set<string>();

/**
 * Takes a data folder for this process before anything in it is read or written (the `--clean` wipe,
 * the catalogue file, the embedded stores): an exclusive lock file created atomically (written aside,
 * then hard-linked into place, which fails if the file exists), holding our PID. A lock whose PID is
 * no longer alive on this host is stale (a killed run) and is taken over; the LevelDB lock inside
 * `dynamodb/` comes too late for this, after `--clean` has already wiped the holder's table.
 * @throws DataFolderInUseError naming the PID of the live run holding the folder (this process too).
 */
export async function lockDataFolder(dataDir: string): Promise<DataFolderLock> {
  if (typeof dataDir !== "string" || dataDir === "") {
    throw new InvalidInputError("dataDir is required", { field: "dataDir" });
  }
  const folder = resolve(dataDir);
  const lockFile = join(folder, LOCK_FILE_NAME);
  if (held.has(lockFile)) throw inUse(folder, lockFile, holderOf(held.get(lockFile)));
  await mkdir(folder, { recursive: true });
  const holder: LockHolder = {
    pid: process.pid,
    host: hostname(),
    since: new Date().toISOString(),
    token: randomUUID(),
  };
  const content = `${JSON.stringify(holder)}\n`;
  ownTokens.add(holder.token);
  try {
    return await acquire(folder, lockFile, holder, content);
  } catch (error) {
    ownTokens.delete(holder.token);
    throw error;
  }
}

async function acquire(
  folder: string,
  lockFile: string,
  holder: LockHolder,
  content: string,
): Promise<DataFolderLock> {
  let lastSeen: LockHolder | undefined;
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt += 1) {
    if (await createExclusive(lockFile, content)) return hold(folder, lockFile, holder, content);
    const found = await readLockFile(lockFile);
    if (found === undefined) continue; // released between our attempt and the read: try again
    const current = holderOf(found.raw);
    if (current === undefined) {
      if (found.ageMs < UNREADABLE_GRACE_MS) {
        await sleep(RETRY_DELAY_MS);
        continue;
      }
    } else {
      lastSeen = current;
      if (!isStale(current)) throw inUse(folder, lockFile, current);
    }
    await removeStale(lockFile, found.raw);
  }
  throw inUse(folder, lockFile, lastSeen);
}

function hold(folder: string, lockFile: string, holder: LockHolder, content: string): DataFolderLock {
  held.set(lockFile, content);
  // A run that ends by process.exit (not by a signal) leaves no lock behind; a killed one leaves a
  // stale lock that the next run takes over.
  const onExit = () => {
    try {
      if (readFileSync(lockFile, "utf8") === content) unlinkSync(lockFile);
    } catch {
      // Already gone.
    }
  };
  process.once("exit", onExit);
  return {
    dataDir: folder,
    lockFile,
    holder,
    release: async () => {
      if (held.get(lockFile) !== content) return;
      held.delete(lockFile);
      ownTokens.delete(holder.token);
      process.off("exit", onExit);
      const current = await readFile(lockFile, "utf8").catch(() => undefined);
      if (current === content) await unlink(lockFile).catch(ignoreMissing);
    },
  };
}

/** Creates `lockFile` with `content` unless it exists; false when it does. */
async function createExclusive(lockFile: string, content: string): Promise<boolean> {
  const aside = `${lockFile}.${process.pid}.${randomUUID()}`;
  await writeFile(aside, content, { flag: "wx" });
  try {
    // link(2) fails with EEXIST when the name exists, and the file appears with its whole content.
    await link(aside, lockFile);
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EEXIST") return false;
    if (code !== "EPERM" && code !== "ENOTSUP" && code !== "ENOSYS" && code !== "EXDEV") throw error;
    // A filesystem without hard links: O_EXCL still makes the creation exclusive, though a reader
    // may briefly see the file empty (UNREADABLE_GRACE_MS covers that).
    try {
      await writeFile(lockFile, content, { flag: "wx" });
      return true;
    } catch (fallbackError) {
      if ((fallbackError as NodeJS.ErrnoException).code === "EEXIST") return false;
      throw fallbackError;
    }
  } finally {
    await unlink(aside).catch(ignoreMissing);
  }
}

async function readLockFile(lockFile: string): Promise<{ raw: string; ageMs: number } | undefined> {
  try {
    const [raw, info] = await Promise.all([readFile(lockFile, "utf8"), stat(lockFile)]);
    return { raw, ageMs: Date.now() - info.mtimeMs };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

function holderOf(raw: string | undefined): LockHolder | undefined {
  if (raw === undefined) return undefined;
  try {
    const parsed = JSON.parse(raw) as Partial<LockHolder>;
    if (!Number.isSafeInteger(parsed.pid) || (parsed.pid as number) <= 0) return undefined;
    return {
      pid: parsed.pid as number,
      host: String(parsed.host ?? ""),
      since: String(parsed.since ?? ""),
      token: String(parsed.token ?? ""),
    };
  } catch {
    return undefined;
  }
}

function isStale(holder: LockHolder): boolean {
  // Another host's PID cannot be probed from here (a folder on a shared disk): never assume it dead.
  if (holder.host !== hostname()) return false;
  // Our own PID in a lock this process neither holds nor is taking: a previous process that had the
  // PID (a container restarted with the same PID) died without releasing.
  if (holder.pid === process.pid) return !ownTokens.has(holder.token);
  return !processIsAlive(holder.pid);
}

/**
 * Removes a stale lock file if it still holds `staleRaw`. A guard file makes the check and the
 * removal one step across processes: without it, two runs that both saw the same stale lock could
 * each remove it, the second removing the lock the first had just created.
 */
async function removeStale(lockFile: string, staleRaw: string): Promise<void> {
  const guard = join(dirname(lockFile), LOCK_TAKEOVER_FILE_NAME);
  try {
    await writeFile(guard, String(process.pid), { flag: "wx" });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    const age = await stat(guard).then(
      (info) => Date.now() - info.mtimeMs,
      () => 0,
    );
    if (age > TAKEOVER_GUARD_STALE_MS) await unlink(guard).catch(ignoreMissing);
    await sleep(RETRY_DELAY_MS);
    return;
  }
  try {
    const current = await readFile(lockFile, "utf8").catch(() => undefined);
    if (current === staleRaw) await unlink(lockFile).catch(ignoreMissing);
  } finally {
    await unlink(guard).catch(ignoreMissing);
  }
}

function inUse(folder: string, lockFile: string, holder: LockHolder | undefined): DataFolderInUseError {
  const where = [
    holder !== undefined && holder.host !== hostname() ? `on host ${holder.host}` : "",
    holder?.since ? `since ${holder.since}` : "",
  ].filter((part) => part !== "");
  return new DataFolderInUseError(folder, holder?.pid ?? 0, {
    lockFile,
    detail:
      `${where.map((part) => `${part} `).join("")}(another run holds it: wait for it to end or use ` +
      `another --data-dir; if no such process runs, remove ${lockFile})`,
  });
}

function ignoreMissing(error: unknown): void {
  if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
}
