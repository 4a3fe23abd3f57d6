/**
 * Debian's Chromium driven by playwright-core, for the dashboard's browser tests. No browser is ever
 * downloaded: without /usr/bin/chromium the tests skip with a loud message, except under CI=true,
 * where `.ci/run` installs it and a missing browser fails the run.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext } from "playwright-core";

export const CHROMIUM = process.env.PERDURE_TEST_CHROMIUM ?? "/usr/bin/chromium";

/** Why the browser tests cannot run here, or undefined when they can. */
export function browserProblem(): string | undefined {
  if (existsSync(CHROMIUM)) return undefined;
  const problem = `no Chromium at ${CHROMIUM} (install it with \`apt-get install -y chromium\`, or set PERDURE_TEST_CHROMIUM)`;
  if (process.env.CI === "true") throw new Error(`CI=true and ${problem}: the dashboard's browser tests must run in CI.`);
  console.warn(`\n*** SKIPPING the dashboard browser tests: ${problem}. ***\n`);
  return problem;
}

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

/** A headless Chromium with a fresh profile of its own, removed on close. */
export async function launchBrowser(): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), "perdure-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run", "--disable-sync"],
    viewport: { width: 1360, height: 900 },
  });
  context.setDefaultTimeout(15_000);
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
