import { DurableError, InvalidArgumentError } from "../core/errors.js";

/**
 * The app-level hooks of `@azure/functions` v4 (`app.hook.appStart`, `app.hook.appTerminate`): code
 * that runs when a host starts, before it takes any work, and when it stops, after its work drained.
 * Per-invocation hooks (`preInvocation`, `postInvocation`) are not run by Perdure: registering one is
 * refused with the way out, so no app relies on a hook that silently never runs.
 */
export interface HookContext {
  /** Shared by the hooks of one event (`hookData`) and by all app hooks (`appHookData`). */
  hookData: Record<string, unknown>;
  appHookData: Record<string, unknown>;
}
export type AppStartContext = HookContext;
export type AppTerminateContext = HookContext;
export type AppStartHandler = (context: AppStartContext) => void | Promise<void>;
export type AppTerminateHandler = (context: AppTerminateContext) => void | Promise<void>;

/** What `app.hook.*` returns, as in @azure/functions: `dispose()` unregisters the hook. */
export interface Disposable {
  dispose(): void;
}

export class AppHooks {
  readonly #start: AppStartHandler[] = [];
  readonly #terminate: AppTerminateHandler[] = [];
  readonly #appHookData: Record<string, unknown> = {};

  appStart(handler: AppStartHandler): Disposable {
    return this.#add(this.#start, handler, "appStart");
  }
  appTerminate(handler: AppTerminateHandler): Disposable {
    return this.#add(this.#terminate, handler, "appTerminate");
  }

  #add<T>(list: T[], handler: T, kind: string): Disposable {
    if (typeof handler !== "function") throw new InvalidArgumentError(`app.hook.${kind} needs a function (context) => void.`);
    list.push(handler);
    return { dispose: () => void (list.includes(handler) && list.splice(list.indexOf(handler), 1)) };
  }

  /** Runs the appStart hooks in order; one that throws stops the host's start with its error. */
  async runStart(): Promise<void> {
    const context: AppStartContext = { hookData: {}, appHookData: this.#appHookData };
    for (const h of [...this.#start]) await h(context);
  }

  /** Runs every appTerminate hook; failures are reported, not thrown (the host stops anyway). */
  async runTerminate(report: (err: unknown) => void): Promise<void> {
    const context: AppTerminateContext = { hookData: {}, appHookData: this.#appHookData };
    for (const h of [...this.#terminate]) {
      try {
        await h(context);
      } catch (err) {
        report(err);
      }
    }
  }
}

export function unsupportedInvocationHook(kind: "preInvocation" | "postInvocation"): never {
  throw new DurableError(
    "UNSUPPORTED_HOOK",
    `app.hook.${kind}: Perdure does not run per-invocation hooks. Put the code in the functions themselves (a shared wrapper around their handlers), or use app.hook.appStart / appTerminate for what runs once per host.`,
  );
}
