/**
 * Pattern 2, fan-out/fan-in: the `backupSiteContent` sample of durable-functions, backing up to a local
 * folder instead of Blob storage. `getFileList` lists every file under a directory; the orchestrator
 * then starts one `copyFileToBackup` per file at once and waits for all of them with `Task.all`. Each
 * copy returns the file's size, and the output is the total number of bytes backed up.
 */
import { copyFile, mkdir, readdir, stat } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import * as df from "../../src/index.js";
import type { ActivityContext, DurableApp } from "../../src/index.js";

export const ORCHESTRATOR = "backupSiteContent";

/** The input: a directory path (backed up to `<directory>.backup`), or both folders spelled out. */
export type BackupInput = string | { directory: string; backupDirectory?: string };

export interface CopyRequest {
  /** Where the copy goes. */
  backupPath: string;
  /** The file to copy. */
  filePath: string;
}

/** Every file under `dir`, recursively, sorted (paths start with `dir`). */
async function listFiles(dir: string): Promise<string[]> {
  const files: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...(await listFiles(path)));
    else if (entry.isFile()) files.push(path);
  }
  return files.sort();
}

export function register(app: DurableApp): void {
  app.activity("getFileList", { handler: (directory: string) => listFiles(directory) });

  app.activity("copyFileToBackup", {
    handler: async ({ backupPath, filePath }: CopyRequest, context: ActivityContext) => {
      await mkdir(dirname(backupPath), { recursive: true });
      await copyFile(filePath, backupPath);
      const { size } = await stat(backupPath);
      context.log(`Copied ${filePath} to ${backupPath} (${size} bytes).`);
      return size;
    },
  });

  app.orchestration(ORCHESTRATOR, function* (context) {
    const input = context.df.getInput<BackupInput | undefined>();
    const directory = typeof input === "string" ? input : input?.directory;
    if (!directory) throw new Error("A directory path is required as an input.");
    const backupDirectory = (typeof input === "object" ? input.backupDirectory : undefined) ?? `${directory}.backup`;

    const files = (yield context.df.callActivity("getFileList", directory)) as string[];
    context.df.setCustomStatus({ files: files.length });
    if (files.length === 0) return 0; // Task.all needs at least one task, as in durable-functions.

    // Fan out: one activity per file, all scheduled in the same step and run in parallel.
    const copies = files.map((filePath) => {
      const request: CopyRequest = { filePath, backupPath: join(backupDirectory, relative(directory, filePath)) };
      return context.df.callActivity("copyFileToBackup", request);
    });
    // Fan in: Task.all resolves to the results in input order once every copy has finished.
    const sizes = (yield context.df.Task.all(copies)) as number[];
    return sizes.reduce((total, size) => total + size, 0);
  });
}

register(df.app);
