import { randomUUID } from "node:crypto";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { type BindingDirection, type BindingHandler, BlobPathError, describeBinding, invocationInfoOf, resolveBindingExpressions } from "./binding-context.js";
import type { FunctionBinding, InvocationContext } from "./invocation-context.js";

/**
 * The built-in handler of `blob` bindings (`input.storageBlob` / `output.storageBlob` of
 * `perdure/azure-functions`): blobs are files in a local folder, `<root>/<container>/<path/to/blob>`.
 * The root is the value of the app setting named by the binding's `connection` when that value is a
 * `file:` URL or an absolute path; otherwise `PERDURE_BLOB_ROOT`, default `.perdure/blobs` under the
 * current directory.
 */

export const DEFAULT_BLOB_ROOT = ".perdure/blobs";

/** The folder blobs of this connection live in. */
export function blobRoot(connection: unknown): string {
  // As in Azure, a binding without a connection uses the AzureWebJobsStorage setting.
  const setting = typeof connection === "string" && connection !== "" ? connection : "AzureWebJobsStorage";
  const value = process.env[setting]?.trim();
  if (value) {
    if (/^file:/i.test(value)) return resolve(fileURLToPath(value));
    if (isAbsolute(value)) return resolve(value);
  }
  const fallback = process.env.PERDURE_BLOB_ROOT?.trim();
  return resolve(fallback ? fallback : DEFAULT_BLOB_ROOT);
}

/** The file of the blob a binding names for this invocation: its path resolved, checked to stay inside the root. */
export async function blobFile(binding: FunctionBinding, direction: BindingDirection, context: InvocationContext): Promise<string> {
  const label = invocationInfoOf(context).label;
  const template = binding.path;
  if (typeof template !== "string" || template.trim() === "") {
    throw new BlobPathError(binding, direction, `${label}: ${describeBinding(binding, direction)} has no path: give it one like 'container/{name}.txt'.`);
  }
  const path = await resolveBindingExpressions(template, binding, direction, context, "path");
  const root = blobRoot(binding.connection);
  const shown = path === template ? `'${path}'` : `'${path}' (from '${template}')`;
  const refuse = (why: string): never => {
    throw new BlobPathError(binding, direction, `${label}: the blob path ${shown} of ${describeBinding(binding, direction)} ${why}. Blob paths are '<container>/<blob name>' inside the blob root (${root}).`);
  };
  if (path.includes("\0")) refuse("contains a NUL character");
  if (/^[\\/]/.test(path) || /^[A-Za-z]:/.test(path)) refuse("is absolute, and would lead out of the blob root: refused");
  // Backslashes separate folders on Windows: they count as separators everywhere, so no path means two things.
  const segments = path.split(/[\\/]/);
  const dots = segments.find((s) => s === ".." || s === ".");
  if (dots !== undefined) refuse(`has a '${dots}' segment, and could lead out of the blob root: refused`);
  if (segments.some((s) => s === "")) refuse("has an empty segment (a leading, trailing or double '/')");
  if (segments.length < 2) refuse("names a container but no blob");
  if (process.platform === "win32") {
    // On Windows a ':' opens an alternate data stream and CON, NUL, COM1, ... are devices, not files.
    if (segments.some((s) => s.includes(":"))) refuse("has a ':' in a segment, which Windows reads as a data stream");
    const device = segments.find((s) => /^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$/i.test(s));
    if (device !== undefined) refuse(`has the segment '${device}', a device name on Windows`);
  }
  const file = resolve(root, ...segments);
  const rel = relative(root, file);
  if (rel === "" || rel === ".." || rel.startsWith(`..${sep}`) || isAbsolute(rel)) refuse("leads out of the blob root: refused");
  return file;
}

/** A blob's bytes, or null when it does not exist (Azure's Functions host binds a missing blob input to null). */
async function readBlob(binding: FunctionBinding, context: InvocationContext): Promise<Buffer | null> {
  const file = await blobFile(binding, "input", context);
  try {
    return await readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException)?.code;
    if (code === "ENOENT" || code === "ENOTDIR" || code === "EISDIR") return null;
    throw err;
  }
}

/** Writes a blob atomically: a temp file beside it, then a rename. null and undefined write nothing, as in Azure. */
async function writeBlob(value: unknown, binding: FunctionBinding, context: InvocationContext): Promise<void> {
  if (value === undefined || value === null) return;
  const file = await blobFile(binding, "output", context);
  const bytes = blobBytes(value);
  await mkdir(dirname(file), { recursive: true });
  const temp = join(dirname(file), `.${basename(file)}.${randomUUID()}.tmp`);
  try {
    await writeFile(temp, bytes, { flush: true });
    await rename(temp, file);
  } catch (err) {
    await rm(temp, { force: true }).catch(() => undefined);
    throw err;
  }
}

/** Buffer, typed arrays, ArrayBuffer and DataView as their bytes; a string as UTF-8; anything else as JSON. */
export function blobBytes(value: unknown): Uint8Array {
  if (value instanceof Uint8Array) return value;
  if (value instanceof ArrayBuffer || value instanceof SharedArrayBuffer) return new Uint8Array(value);
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  if (typeof value === "string") return Buffer.from(value, "utf8");
  return Buffer.from(JSON.stringify(value) ?? String(value), "utf8");
}

export const blobBindingHandler: BindingHandler = { input: readBlob, output: writeBlob };
