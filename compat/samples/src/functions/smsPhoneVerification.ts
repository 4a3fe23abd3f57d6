import { InvocationContext, output } from "perdure/azure-functions";
import * as df from "perdure";
import { ActivityHandler, OrchestrationContext, OrchestrationHandler, Task, TimerTask } from "perdure";

const sendSmsChallengeActivityName = "sendSmsChallenge";

// Human interaction: text a code, then wait up to 90 seconds for up to four answers.
const smsPhoneVerification: OrchestrationHandler = function* (context: OrchestrationContext) {
    const phoneNumber: string = context.df.getInput();
    if (!phoneNumber) {
        throw new Error("A phone number input is required.");
    }

    const challengeCode: number = yield context.df.callActivity(sendSmsChallengeActivityName, phoneNumber);

    const expiration = new Date(context.df.currentUtcDateTime.getTime() + 90 * 1000);
    const timeoutTask: TimerTask = context.df.createTimer(expiration);

    let authorized = false;
    for (let i = 0; i <= 3; i++) {
        const challengeResponseTask: Task = context.df.waitForExternalEvent("SmsChallengeResponse");

        const winner: Task = yield context.df.Task.any([challengeResponseTask, timeoutTask]);

        if (winner === timeoutTask) {
            break;
        }
        if (challengeResponseTask.result === challengeCode) {
            authorized = true;
            break;
        }
    }

    if (!timeoutTask.isCompleted) {
        // Every pending timer is completed or cancelled before the orchestration ends.
        timeoutTask.cancel();
    }
    return authorized;
};
df.app.orchestration("smsPhoneVerification", smsPhoneVerification);

const twilioOutput = output.generic({
    type: "twilioSms",
    from: "%TwilioPhoneNumber%",
    accountSidSetting: "TwilioAccountSid",
    authTokenSetting: "TwilioAuthToken",
});

const sendSmsChallenge: ActivityHandler = function (phoneNumber: string, context: InvocationContext): number {
    const challengeCode: number = Math.floor(Math.random() * 10000);

    context.log(`Sending verification code ${challengeCode} to ${phoneNumber}.`);

    context.extraOutputs.set(twilioOutput, {
        body: `Your verification code is ${challengeCode.toPrecision(4)}`,
        to: phoneNumber,
    });
    return challengeCode;
};
df.app.activity(sendSmsChallengeActivityName, {
    extraOutputs: [twilioOutput],
    handler: sendSmsChallenge,
});
