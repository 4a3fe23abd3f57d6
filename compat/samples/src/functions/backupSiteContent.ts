import * as df from "perdure";
import * as fs from "fs/promises";
import * as path from "path";
import { InvocationContext, output } from "perdure/azure-functions";
import { OrchestrationHandler, OrchestrationContext, ActivityHandler, Task } from "perdure";

const getFileListActivityName = "getFileList";
const copyFileToBlobActivityName = "copyFileToBlob";

// Fan-out/fan-in: list the files under a folder, copy each to blob storage in parallel, sum the bytes.
const backupSiteContentOrchestration: OrchestrationHandler = function* (context: OrchestrationContext) {
    const rootDir: string = context.df.getInput<string>();
    if (!rootDir) {
        throw new Error("A directory path is required as an input.");
    }

    const rootDirAbs: string = path.resolve(rootDir);
    const files: string[] = yield context.df.callActivity(getFileListActivityName, rootDirAbs);

    const tasks: Task[] = [];
    for (const file of files) {
        const input = {
            backupPath: path.relative(rootDirAbs, file).replace("\\", "/"),
            filePath: file,
        };
        tasks.push(context.df.callActivity(copyFileToBlobActivityName, input));
    }

    const results: number[] = yield context.df.Task.all(tasks);
    const totalBytes: number = results ? results.reduce((prev, curr) => prev + curr, 0) : 0;
    return totalBytes;
};
df.app.orchestration("backupSiteContent", backupSiteContentOrchestration);

const getFileListActivity: ActivityHandler = async function (rootDirectory: string, context: InvocationContext): Promise<string[]> {
    context.log(`Searching for files under '${rootDirectory}'...`);

    const allFilePaths: string[] = [];
    for (const entry of await fs.readdir(rootDirectory, { recursive: true, withFileTypes: true })) {
        if (entry.isFile()) allFilePaths.push(path.join(entry.parentPath ?? entry.path, entry.name));
    }
    context.log(`Found ${allFilePaths.length} under ${rootDirectory}.`);
    return allFilePaths;
};
df.app.activity(getFileListActivityName, { handler: getFileListActivity });

const blobOutput = output.storageBlob({
    path: "backups/{backupPath}",
    connection: "StorageConnString",
});

const copyFileToBlobActivity: ActivityHandler = async function (
    { backupPath, filePath }: { backupPath: string; filePath: string },
    context: InvocationContext
): Promise<number> {
    const outputLocation = `backups/${backupPath}`;
    const stats = await fs.stat(filePath);
    context.log(`Copying '${filePath}' to '${outputLocation}'. Total bytes = ${stats.size}.`);

    const fileContents = await fs.readFile(filePath);
    context.extraOutputs.set(blobOutput, fileContents);

    return stats.size;
};
df.app.activity(copyFileToBlobActivityName, {
    extraOutputs: [blobOutput],
    handler: copyFileToBlobActivity,
});
