import * as df from "perdure";
import { OrchestrationContext, OrchestrationHandler } from "perdure";

// An eternal orchestration: counts to 10, one execution per count, with a timer between counts
// (30 s in the sample, half a second here).
const continueAsNewCounter: OrchestrationHandler = function* (context: OrchestrationContext) {
    let currentValue: number = context.df.getInput() || 0;
    context.log(`Value is ${currentValue}`);
    currentValue++;

    const wait = new Date(context.df.currentUtcDateTime.getTime() + 500);
    context.log("Counting up at " + wait.toISOString());
    yield context.df.createTimer(wait);

    if (currentValue < 10) {
        context.df.continueAsNew(currentValue);
    }
    return currentValue;
};
df.app.orchestration("continueAsNewCounter", continueAsNewCounter);
