import * as df from "perdure";
import { OrchestrationContext, OrchestrationHandler } from "perdure";

const subOrchestratorName = "throwsErrorInLine";

// Two attempts of a child that always throws; the parent catches the failure. As in the sample, the
// object is the child's input (the SDK's fourth parameter is the instance ID). The sample waits 10 s
// between attempts; 1 s here.
const callSubOrchestratorWithRetry: OrchestrationHandler = function* (context: OrchestrationContext) {
    const retryOptions: df.RetryOptions = new df.RetryOptions(1000, 2);
    const childId = `${context.df.instanceId}:0`;

    let returnValue: unknown;
    try {
        returnValue = yield context.df.callSubOrchestratorWithRetry(subOrchestratorName, retryOptions, {
            input: "Input",
            instanceId: childId,
        });
    } catch (e) {
        context.log("Orchestrator caught exception. Sub-orchestrator failed.");
    }
    return returnValue;
};
df.app.orchestration("callSubOrchestratorWithRetry", callSubOrchestratorWithRetry);

const flakyOrchestrator: OrchestrationHandler = function* () {
    throw new Error(`${subOrchestratorName} does what it says on the tin.`);
};
df.app.orchestration(subOrchestratorName, flakyOrchestrator);
