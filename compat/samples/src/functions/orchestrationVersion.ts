import * as df from "perdure";
import { ActivityHandler, OrchestrationContext, OrchestrationHandler } from "perdure";

// context.df.version is the version the instance started with: the host's (here defaultVersion of
// host.json) unless the caller passed one. Old instances keep their code path after a deploy.
const versionedOrchestrator: OrchestrationHandler = function* (context: OrchestrationContext) {
    let activityResult: unknown;
    if (context.df.version === "1.0") {
        activityResult = yield context.df.callActivity("ActivityA");
    } else {
        activityResult = yield context.df.callActivity("ActivityB");
    }

    // A chance to deploy new code and restart the host before going on.
    context.df.setCustomStatus("Waiting for Continue event...");
    yield context.df.waitForExternalEvent("Continue");
    context.df.setCustomStatus("Continue event received");

    // A version can be passed to a sub-orchestration explicitly...
    const subOrchestratorWithVersionResult: unknown = yield context.df.callSubOrchestrator(
        "versionedSuborchestrator",
        undefined, // input
        undefined, // instanceId
        "0.9" // version
    );
    // ...or left to the host's current version.
    const subOrchestratorResult: unknown = yield context.df.callSubOrchestrator("versionedSuborchestrator");

    return [
        `Orchestration version: ${context.df.version}`,
        `Suborchestration version (explicit): ${subOrchestratorWithVersionResult}`,
        `Suborchestration version (default): ${subOrchestratorResult}`,
        `Activity result: ${activityResult}`,
    ];
};
df.app.orchestration("versionedOrchestrator", versionedOrchestrator);

const versionedSuborchestrator: OrchestrationHandler = function* (context: OrchestrationContext) {
    return context.df.version;
};
df.app.orchestration("versionedSuborchestrator", versionedSuborchestrator);

const ActivityA: ActivityHandler = (): string => {
    return `Hello from A`;
};
df.app.activity("ActivityA", { handler: ActivityA });

const ActivityB: ActivityHandler = (): string => {
    return `Hello from B`;
};
df.app.activity("ActivityB", { handler: ActivityB });
