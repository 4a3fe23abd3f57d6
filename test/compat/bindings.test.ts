/**
 * Extra input and output bindings, run by a real host: the built-in `blob` binding on a local folder
 * (the backup-site-content sample of durable-functions, with only its imports changed), handlers an
 * app registers with `app.setBindingHandler`, the warning for a binding nothing runs, and failures.
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { readdir, readFile, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as pathLib from "node:path";
import { pathToFileURL } from "node:url";
import { after, before, describe, it } from "node:test";
import { app, type FunctionOutput, input, type InvocationContext, output } from "../../src/azure-functions.js";
import * as df from "../../src/index.js";
import { createHost, type Host } from "../../src/host/host.js";
import { BindingHandlers, invokeWithBindings } from "../../src/runtime/bindings.js";
import { blobBindingHandler } from "../../src/runtime/blob-binding.js";
import type { LogFields, Logger } from "../../src/runtime/logger.js";
import type { TaskFailedError } from "../../src/core/errors.js";

const tmp = mkdtempSync(pathLib.join(tmpdir(), "perdure-bindings-"));
const blobRoot = pathLib.join(tmp, "blobs");
const defaultRoot = pathLib.join(tmp, "default-blobs");
const site = pathLib.join(tmp, "site");
// App settings, as in local.settings.json: an absolute path, a file: URL, and an Azure connection string.
process.env.StorageConnString = blobRoot;
process.env.ConfigStorage = pathToFileURL(pathLib.join(tmp, "config-blobs")).href;
process.env.AzureStorage = "UseDevelopmentStorage=true";
process.env.PERDURE_BLOB_ROOT = defaultRoot;
process.env.TwilioPhoneNumber = "+15550100";

// ---- the backup-site-content sample (durable-functions samples-ts), imports changed ----
const getFileListActivityName = "getFileList";
const copyFileToBlobActivityName = "copyFileToBlob";

df.app.orchestration("backupSiteContent", function* (context) {
  const rootDir: string = context.df.getInput();
  if (!rootDir) throw new Error("A directory path is required as an input.");
  const rootDirAbs: string = pathLib.resolve(rootDir);
  const files: string[] = yield context.df.callActivity(getFileListActivityName, rootDirAbs);
  const tasks: df.Task[] = [];
  for (const file of files) {
    const input = { backupPath: pathLib.relative(rootDirAbs, file).replaceAll("\\", "/"), filePath: file };
    tasks.push(context.df.callActivity(copyFileToBlobActivityName, input));
  }
  const results: number[] = yield context.df.Task.all(tasks);
  return results.reduce((prev, curr) => prev + curr, 0);
});

df.app.activity(getFileListActivityName, {
  handler: async (rootDirectory: string): Promise<string[]> => {
    const entries = await readdir(rootDirectory, { recursive: true, withFileTypes: true });
    return entries.filter((e) => e.isFile()).map((e) => pathLib.join(e.parentPath, e.name)).sort();
  },
});

const blobOutput = output.storageBlob({ path: "backups/{backupPath}", connection: "StorageConnString" });

df.app.activity(copyFileToBlobActivityName, {
  extraOutputs: [blobOutput],
  handler: async ({ backupPath, filePath }: { backupPath: string; filePath: string }, context: InvocationContext): Promise<number> => {
    const outputLocation = `backups/${backupPath}`;
    const stats = await stat(filePath);
    context.log(`Copying '${filePath}' to '${outputLocation}'. Total bytes = ${stats.size}.`);
    const fileContents = await readFile(filePath);
    context.extraOutputs.set(blobOutput, fileContents);
    return stats.size;
  },
});
// ---- end of the sample ----

// A blob input, from a file: URL root.
const configInput = input.storageBlob({ path: "config/{name}.json", connection: "ConfigStorage" });
df.app.activity("readConfig", {
  extraInputs: [configInput],
  handler: (_input: { name: string }, context: InvocationContext) => {
    const blob = context.extraInputs.get(configInput);
    return blob === null ? null : { isBuffer: Buffer.isBuffer(blob), text: (blob as Buffer).toString("utf8") };
  },
});

// The host's blob root (PERDURE_BLOB_ROOT here): a connection string is no folder. Values of any kind.
const logBlob = output.storageBlob({ path: "logs/{DateTime:yyyy}/{rand-guid}.json", connection: "AzureStorage" });
const textBlob = output.storageBlob({ path: "text/{kind}.txt", connection: "AzureStorage" });
const bytesBlob = output.storageBlob({ path: "bytes/{kind}.bin", connection: "AzureStorage" });
df.app.activity("writeKinds", {
  extraOutputs: [logBlob, textBlob, bytesBlob],
  handler: (value: { kind: string }, context: InvocationContext) => {
    context.extraOutputs.set(logBlob, { at: "now", n: [1, 2] });
    context.extraOutputs.set(textBlob, `text é ${value.kind}`);
    context.extraOutputs.set(bytesBlob, new Uint16Array([0x0201, 0x0403]).buffer);
    return "ok";
  },
});

// A binding the app runs itself: the phone-verification sample's SMS, and an input of its own type.
const twilioOutput = output.generic({ type: "twilioSms", from: "%TwilioPhoneNumber%", accountSidSetting: "TwilioAccountSid", authTokenSetting: "TwilioAuthToken" });
const auditOutput = output.generic({ type: "audit", name: "auditLog" });
const greetingInput = input.generic({ type: "Greeting", name: "greeting", language: "fr" });
const sent: { value: unknown; binding: FunctionOutput; functionName: string }[] = [];
const order: string[] = [];
app.setBindingHandler("TwilioSMS", {
  output: async (value, binding, context) => {
    await new Promise((r) => setTimeout(r, 5));
    order.push("twilioSms");
    sent.push({ value, binding, functionName: context.functionName });
  },
});
app.setBindingHandler("audit", { output: (value) => void order.push(`audit:${String(value)}`) });
app.setBindingHandler("greeting", { input: (binding) => (binding.language === "fr" ? "Bonjour" : "Hello") });
df.app.activity("sendSmsChallenge", {
  extraInputs: [greetingInput],
  extraOutputs: [twilioOutput, auditOutput],
  handler: (phoneNumber: string, context: InvocationContext) => {
    const challengeCode = 4242;
    context.extraOutputs.set(auditOutput, "first");
    context.extraOutputs.set(twilioOutput, { body: `${String(context.extraInputs.get(greetingInput))}, your verification code is ${challengeCode}`, to: phoneNumber });
    return challengeCode;
  },
});

// A binding nothing runs: the value is dropped, with one warning per process.
const sendGridOutput = output.generic({ type: "sendGrid", apiKey: "SendGridKey" });
df.app.activity("sendMail", {
  extraOutputs: [sendGridOutput],
  handler: (to: string, context: InvocationContext) => {
    context.extraOutputs.set(sendGridOutput, { to, subject: "hi" });
    return to;
  },
});

// An output handler that throws.
const pagerOutput = output.generic({ type: "pager", name: "pageOnCall" });
app.setBindingHandler("pager", {
  output: () => {
    throw new Error("pager service said 503");
  },
});
df.app.activity("pageSomeone", {
  extraOutputs: [pagerOutput],
  handler: (_: unknown, context: InvocationContext) => {
    context.extraOutputs.set(pagerOutput, "wake up");
    return "paged";
  },
});

/** Calls one activity and gives its result, or the failure it threw into the orchestration. */
df.app.orchestration("callOne", function* (context) {
  const { name, input, times } = context.df.getInput<{ name: string; input?: unknown; times?: number }>();
  const results: unknown[] = [];
  for (let i = 0; i < (times ?? 1); i++) {
    try {
      results.push({ ok: yield context.df.callActivity(name, input) });
    } catch (err) {
      const e = err as TaskFailedError;
      results.push({ failed: e.failureDetails.errorMessage, code: e.failureDetails.code, type: e.failureDetails.errorType });
    }
  }
  return times === undefined ? results[0] : results;
});

// An entity with a blob output ({day} from the operation's input).
const journalBlob = output.storageBlob({ path: "journal/{day}.txt", connection: "StorageConnString" });
df.app.entity<number>("journal", {
  extraOutputs: [journalBlob],
  handler: (context) => {
    const entry = context.df.getInput<{ day: string; text: string }>();
    context.extraOutputs.set(journalBlob, entry.text);
    context.df.setState((context.df.getState(() => 0) ?? 0) + 1);
  },
});

// An HTTP client function with a blob extraOutput ({id} from the route, {Query.v} from the query).
const noteBlob = output.storageBlob({ path: "notes/{id}-v{Query.v}.txt", connection: "StorageConnString" });
app.http("saveNote", {
  route: "notes/{id}",
  methods: ["POST"],
  extraInputs: [df.input.durableClient()],
  extraOutputs: [noteBlob],
  handler: async (request, context) => {
    context.extraOutputs.set(noteBlob, await request.text());
    return { status: 201, jsonBody: { saved: request.params.id } };
  },
});
const badNoteBlob = output.storageBlob({ path: "notes/{missing}.txt", connection: "StorageConnString" });
app.http("saveBadNote", {
  route: "badnotes/{id}",
  methods: ["POST"],
  extraOutputs: [badNoteBlob],
  handler: (_request, context) => {
    context.extraOutputs.set(badNoteBlob, "x");
    return { status: 201 };
  },
});

interface Record_ {
  level: string;
  message: string;
  fields: LogFields | undefined;
}

describe("extra bindings (perdure/azure-functions)", () => {
  let host: Host;
  const records: Record_[] = [];
  const logger: Logger = {
    info: (message, fields) => void records.push({ level: "info", message, fields }),
    warn: (message, fields) => void records.push({ level: "warn", message, fields }),
    error: (message, fields) => void records.push({ level: "error", message, fields }),
  };
  const run = async (name: string, activityInput?: unknown, times?: number): Promise<unknown> => {
    const id = await host.client.startNew("callOne", { input: { name, input: activityInput, ...(times !== undefined ? { times } : {}) } });
    const status = await host.client.waitForCompletion(id, { timeoutInMilliseconds: 15_000 });
    assert.equal(status.runtimeStatus, "Completed", JSON.stringify(status.output));
    return status.output;
  };

  before(async () => {
    mkdirSync(pathLib.join(site, "css"), { recursive: true });
    writeFileSync(pathLib.join(site, "index.html"), "<h1>hello</h1>");
    writeFileSync(pathLib.join(site, "css", "site.css"), "body { color: red }");
    writeFileSync(pathLib.join(site, "logo.bin"), Buffer.from([0, 1, 2, 255, 254]));
    host = createHost({ store: `sqlite:${pathLib.join(tmp, "perdure.db")}`, port: 0, logger, pollIntervalMs: 20 });
    await host.start();
  });
  after(async () => {
    await host?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  it("backs up a site: each fanned-out activity writes its file to backups/{backupPath} under the connection's folder", async () => {
    const id = await host.client.startNew("backupSiteContent", { input: site });
    const status = await host.client.waitForCompletion(id, { timeoutInMilliseconds: 15_000 });
    assert.equal(status.runtimeStatus, "Completed", JSON.stringify(status.output));
    assert.equal(status.output, 14 + 19 + 5);
    for (const file of ["index.html", "css/site.css", "logo.bin"]) {
      assert.deepEqual(readFileSync(pathLib.join(blobRoot, "backups", file)), readFileSync(pathLib.join(site, file)), file);
    }
    // Written through a temp file and a rename: nothing else is left in the folder.
    assert.deepEqual(readdirSync(pathLib.join(blobRoot, "backups")).sort(), ["css", "index.html", "logo.bin"]);
    assert.equal(records.filter((r) => r.level === "warn").length, 0, "the blob binding runs: no warning");
  });

  it("reads a blob input as a Buffer, and a missing blob as null", async () => {
    mkdirSync(pathLib.join(tmp, "config-blobs", "config"), { recursive: true });
    writeFileSync(pathLib.join(tmp, "config-blobs", "config", "app.json"), '{"debug":true}');
    assert.deepEqual(await run("readConfig", { name: "app" }), { ok: { isBuffer: true, text: '{"debug":true}' } });
    assert.deepEqual(await run("readConfig", { name: "absent" }), { ok: null });
  });

  it("writes JSON, text and bytes under the host's blob root when the connection is not a folder, with {DateTime} and {rand-guid}", async () => {
    assert.deepEqual(await run("writeKinds", { kind: "a" }), { ok: "ok" });
    const year = String(new Date().getUTCFullYear());
    const logs = readdirSync(pathLib.join(defaultRoot, "logs", year));
    assert.equal(logs.length, 1);
    assert.match(logs[0]!, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.json$/);
    assert.deepEqual(JSON.parse(readFileSync(pathLib.join(defaultRoot, "logs", year, logs[0]!), "utf8")), { at: "now", n: [1, 2] });
    assert.equal(readFileSync(pathLib.join(defaultRoot, "text", "a.txt"), "utf8"), "text é a");
    assert.deepEqual([...readFileSync(pathLib.join(defaultRoot, "bytes", "a.bin"))], [...Buffer.from(new Uint16Array([0x0201, 0x0403]).buffer)]);
  });

  it("gives each value to the app's handler of its type (case-insensitive), with the binding's options, in the order set", async () => {
    assert.deepEqual(await run("sendSmsChallenge", "+15550123"), { ok: 4242 });
    assert.deepEqual(order, ["audit:first", "twilioSms"], "awaited, in the order the values were set");
    assert.equal(sent.length, 1);
    assert.deepEqual(sent[0]!.value, { body: "Bonjour, your verification code is 4242", to: "+15550123" });
    assert.equal(sent[0]!.functionName, "sendSmsChallenge");
    assert.equal(sent[0]!.binding.type, "twilioSms");
    assert.equal(sent[0]!.binding.from, "%TwilioPhoneNumber%");
    assert.equal(sent[0]!.binding.accountSidSetting, "TwilioAccountSid");
    assert.equal(sent[0]!.binding.name, twilioOutput.name);
  });

  it("without a handler the activity still completes, and the warning is logged once however often it runs", async () => {
    assert.deepEqual(await run("sendMail", "a@example.com", 3), [{ ok: "a@example.com" }, { ok: "a@example.com" }, { ok: "a@example.com" }]);
    const warnings = records.filter((r) => r.level === "warn" && r.message.includes("sendGrid"));
    assert.equal(warnings.length, 1, JSON.stringify(warnings));
    assert.equal(
      warnings[0]!.message,
      `Activity 'sendMail' wrote to its 'sendGrid' binding (${sendGridOutput.name}), which Perdure does not run: the value was dropped. Register a handler with app.setBindingHandler("sendGrid", { output }) from perdure/azure-functions to deliver it.`,
    );
    assert.equal(warnings[0]!.fields?.functionName, "sendMail");
    assert.equal(warnings[0]!.fields?.bindingType, "sendGrid");
    assert.equal(records.filter((r) => r.level === "warn" && /durableClient/i.test(r.message)).length, 0, "never about durableClient");
  });

  it("an output handler that throws fails the activity with an error naming the binding", async () => {
    const result = (await run("pageSomeone")) as { failed: string; code: string; type: string };
    assert.equal(result.code, "BINDING_FAILED");
    assert.equal(result.type, "BindingFailedError");
    assert.equal(result.failed, "Activity 'pageSomeone': its 'pager' output binding (pageOnCall) failed after the function returned: pager service said 503");
  });

  it("refuses a blob path that leads out of the root, and names an expression it cannot resolve", async () => {
    const escape = (await run(copyFileToBlobActivityName, { backupPath: "../../escaped.txt", filePath: pathLib.join(site, "index.html") })) as { failed: string; code: string };
    assert.equal(escape.code, "BLOB_PATH_INVALID");
    assert.match(escape.failed, /^Activity 'copyFileToBlob': the blob path 'backups\/\.\.\/\.\.\/escaped\.txt' \(from 'backups\/\{backupPath\}'\) of its 'blob' output binding \(blob[0-9a-f]+\) has a '\.\.' segment/);
    assert.equal(existsSync(pathLib.join(tmp, "escaped.txt")), false);
    assert.equal(existsSync(pathLib.join(blobRoot, "escaped.txt")), false);

    const absolute = (await run(copyFileToBlobActivityName, { backupPath: "/etc/x", filePath: pathLib.join(site, "index.html") })) as { failed: string; code: string };
    assert.equal(absolute.code, "BLOB_PATH_INVALID", absolute.failed);

    const missing = (await run(copyFileToBlobActivityName, { filePath: pathLib.join(site, "index.html") })) as { failed: string; code: string };
    assert.equal(missing.code, "BINDING_EXPRESSION_UNRESOLVED");
    assert.match(missing.failed, /^Activity 'copyFileToBlob': the binding expression '\{backupPath\}' in the path 'backups\/\{backupPath\}' of its 'blob' output binding \(blob[0-9a-f]+\) has no value: there is no property 'backupPath' in the activity's input \(it has: filePath\)/);
  });

  it("runs an entity operation's blob output, with {day} from the operation's input", async () => {
    const entity = new df.EntityId("journal", "me");
    await host.client.signalEntity(entity, "write", { day: "mon", text: "rained" });
    const deadline = Date.now() + 10_000;
    while (!existsSync(pathLib.join(blobRoot, "journal", "mon.txt")) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(readFileSync(pathLib.join(blobRoot, "journal", "mon.txt"), "utf8"), "rained");
  });

  it("an HTTP client function's blob output is written before it answers; an unresolved expression answers 500", async () => {
    const res = await fetch(`${host.url!}/api/notes/n1?v=2`, { method: "POST", body: "remember the milk" });
    assert.equal(res.status, 201);
    assert.deepEqual(await res.json(), { saved: "n1" });
    assert.equal(readFileSync(pathLib.join(blobRoot, "notes", "n1-v2.txt"), "utf8"), "remember the milk");

    const bad = await fetch(`${host.url!}/api/badnotes/n2`, { method: "POST", body: "x" });
    assert.equal(bad.status, 500);
    await bad.body?.cancel();
    assert.ok(records.some((r) => r.level === "error" && r.message.includes("'{missing}'") && r.message.includes("Query, Headers")));
  });
});

describe("binding handlers (unit)", () => {
  it("look types up case-insensitively; an app's blob handler replaces the built-in one; durableClient takes none", () => {
    const handlers = new BindingHandlers();
    assert.equal(handlers.get("BLOB"), blobBindingHandler);
    const mine = { output: (): void => undefined };
    handlers.set("Blob", mine);
    assert.equal(handlers.get("blob"), mine);
    assert.throws(() => handlers.set("durableClient", { input: () => 1 }), (e: df.DurableError) => e.code === "INVALID_ARGUMENT");
    assert.throws(() => handlers.set("x", {}), /at least one of them/);
    assert.throws(() => handlers.set("", { input: () => 1 }), /invalid binding type/);
  });

  it("do not deliver outputs when the function throws", async () => {
    const handlers = new BindingHandlers();
    const got: unknown[] = [];
    handlers.set("q", { output: (v) => void got.push(v) });
    const binding = { type: "q", name: "q1" };
    const { InvocationContext: Ctx } = await import("../../src/runtime/invocation-context.js");
    const context = new Ctx({ functionName: "f", options: { extraOutputs: [binding] } });
    const quiet: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };
    await assert.rejects(
      invokeWithBindings(
        context,
        () => {
          context.extraOutputs.set(binding, 1);
          throw new Error("boom");
        },
        { handlers, logger: quiet, kind: "Activity" },
      ),
      /boom/,
    );
    assert.deepEqual(got, []);
    assert.equal(await invokeWithBindings(context, () => (context.extraOutputs.set(binding, 2), "r"), { handlers, logger: quiet, kind: "Activity" }), "r");
    assert.deepEqual(got, [2]);
  });
});
