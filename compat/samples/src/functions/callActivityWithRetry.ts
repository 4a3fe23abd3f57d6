import { InvocationContext } from "perdure/azure-functions";
import * as df from "perdure";
import { ActivityHandler, OrchestrationContext, OrchestrationHandler, RetryOptions } from "perdure";

// Two attempts a second apart; the activity always throws, and the orchestrator catches the failure.
const callActivityWithRetry: OrchestrationHandler = function* (context: OrchestrationContext) {
    const retryOptions: RetryOptions = new df.RetryOptions(1000, 2);

    let returnValue: unknown;
    try {
        returnValue = yield context.df.callActivityWithRetry("flakyFunction", retryOptions);
    } catch (e) {
        context.log("Orchestrator caught exception. Flaky function is extremely flaky.");
    }
    return returnValue;
};
df.app.orchestration("callActivityWithRetry", callActivityWithRetry);

const flakyFunction: ActivityHandler = function (_input: unknown, context: InvocationContext): void {
    context.log("Flaky Function Flaking!");
    throw new Error("FlakyFunction flaked");
};
df.app.activity("flakyFunction", { handler: flakyFunction });
