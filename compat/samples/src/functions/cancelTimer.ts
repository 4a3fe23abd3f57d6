import * as df from "perdure";
import { OrchestrationContext, OrchestrationHandler, TimerTask } from "perdure";

// A two-minute deadline that is cancelled once the work is done first.
const cancelTimer: OrchestrationHandler = function* (context: OrchestrationContext) {
    const expiration = new Date(context.df.currentUtcDateTime.getTime() + 2 * 60 * 1000);
    const timeoutTask: TimerTask = context.df.createTimer(expiration);

    const hello: string = yield context.df.callActivity("sayHello", "from the other side");

    if (!timeoutTask.isCompleted) {
        timeoutTask.cancel();
    }
    return hello;
};
df.app.orchestration("cancelTimer", cancelTimer);
