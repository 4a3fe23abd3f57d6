import assert from "node:assert/strict";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { ORCHESTRATOR, register } from "../../examples/fan-out-fan-in/functions.js";
import { historyOf, STORES, withExampleHost } from "./harness.js";

/** Relative path → content: nested folders, an empty file, binary content. */
const FILES: Record<string, Buffer> = {
  "index.html": Buffer.from("<h1>Hello</h1>\n"),
  "empty.txt": Buffer.alloc(0),
  "css/site.css": Buffer.from("body { margin: 0 }\n".repeat(40)),
  "img/logo.bin": Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 37) % 256)),
  "docs/a/b/c/deep.md": Buffer.from("# deep\n"),
  "docs/readme.md": Buffer.from("é ü ✓\n"),
};

async function writeTree(root: string, files: Record<string, Buffer>): Promise<number> {
  let total = 0;
  for (const [rel, content] of Object.entries(files)) {
    await mkdir(join(root, rel, ".."), { recursive: true });
    await writeFile(join(root, rel), content);
    total += content.length;
  }
  return total;
}

for (const store of STORES) {
  describe(`example fan-out-fan-in (${store})`, () => {
    it("backs up every file in parallel and returns the total size", async () => {
      await withExampleHost(store, register, async ({ host, dir }) => {
        const site = join(dir, "site");
        const backup = join(dir, "backup");
        const expected = await writeTree(site, FILES);
        const id = await host.client.startNew(ORCHESTRATOR, { input: { directory: site, backupDirectory: backup } });
        const status = await host.client.waitForCompletion(id, { timeoutInMilliseconds: 10_000 });
        assert.equal(status.runtimeStatus, "Completed", JSON.stringify(status.output));
        assert.equal(status.output, expected);
        assert.deepEqual(status.customStatus, { files: Object.keys(FILES).length });
        for (const [rel, content] of Object.entries(FILES)) {
          assert.deepEqual(await readFile(join(backup, rel)), content, `backup of ${rel}`);
        }

        // Fan-out: all copies are scheduled in the one step that follows getFileList's completion.
        const types = (await historyOf(host, id)).map((e) => (e.type === "TaskScheduled" ? `TaskScheduled:${e.name}` : e.type));
        const listed = types.indexOf("TaskCompleted");
        const stepEnd = types.indexOf("OrchestratorCompleted", listed);
        assert.deepEqual(types.slice(0, listed).filter((t) => t.startsWith("TaskScheduled")), ["TaskScheduled:getFileList"]);
        assert.deepEqual(
          types.slice(listed + 1, stepEnd),
          Object.keys(FILES).map(() => "TaskScheduled:copyFileToBackup"),
        );
      });
    });

    it("takes a plain directory string and backs up to <directory>.backup", async () => {
      await withExampleHost(store, register, async ({ host, dir }) => {
        const site = join(dir, "plain");
        const expected = await writeTree(site, { "a.txt": Buffer.from("aaa"), "sub/b.txt": Buffer.from("bbbbb") });
        const id = await host.client.startNew(ORCHESTRATOR, { input: site });
        const status = await host.client.waitForCompletion(id, { timeoutInMilliseconds: 10_000 });
        assert.equal(status.output, expected);
        assert.equal(await readFile(join(`${site}.backup`, "sub", "b.txt"), "utf8"), "bbbbb");
      });
    });

    it("returns 0 for an empty directory", async () => {
      await withExampleHost(store, register, async ({ host, dir }) => {
        const empty = join(dir, "empty");
        await mkdir(empty);
        const id = await host.client.startNew(ORCHESTRATOR, { input: empty });
        const status = await host.client.waitForCompletion(id, { timeoutInMilliseconds: 10_000 });
        assert.equal(status.runtimeStatus, "Completed");
        assert.equal(status.output, 0);
      });
    });

    it("fails without a directory input", async () => {
      await withExampleHost(store, register, async ({ host }) => {
        for (const input of [undefined, "", { directory: "" }]) {
          const id = await host.client.startNew(ORCHESTRATOR, input === undefined ? {} : { input });
          const status = await host.client.waitForCompletion(id, { timeoutInMilliseconds: 10_000 });
          assert.equal(status.runtimeStatus, "Failed");
          assert.equal(status.output, `Orchestrator function '${ORCHESTRATOR}' failed: A directory path is required as an input.`);
          assert.equal(status.failureDetails?.errorMessage, "A directory path is required as an input.");
        }
      });
    });
  });
}
