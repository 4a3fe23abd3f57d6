import { InvocationContext, output } from "perdure/azure-functions";
import * as df from "perdure";
import { ActivityHandler, OrchestrationContext, OrchestrationHandler } from "perdure";

// The monitor pattern: check the weather every 30 seconds for up to 6 hours; on clear weather, text
// the user and stop. OpenWeatherMapApiUrl lets a test stand in for the weather service.
const clearWeatherConditions = ["clear sky", "few clouds", "scattered clouds", "broken clouds"];

const getIsClearActivityName = "getIsClear";
const sendGoodWeatherAlertActivityName = "sendGoodWeatherAlert";

interface Location {
    city: string;
    state?: string;
    country: string;
}

interface WeatherMonitorInput {
    location: Location;
    phone: string;
}

interface WeatherData {
    description: string;
}

const weatherMonitor: OrchestrationHandler = function* (context: OrchestrationContext) {
    const input: WeatherMonitorInput = context.df.getInput();
    context.log(`Received monitor request. Location: ${JSON.stringify(input?.location)}. Phone: ${input?.phone}`);
    verifyRequest(input);

    const endTime = new Date(context.df.currentUtcDateTime.getTime() + 6 * 60 * 60 * 1000);
    const locationString = `${input.location.city}${input.location.state ? `, ${input.location.state}` : ""}, ${input.location.country}`;
    context.log(`Instantiating monitor for ${locationString}. Expires: ${endTime.toISOString()}.`);

    while (context.df.currentUtcDateTime < endTime) {
        context.log(`Checking current weather conditions for ${locationString} at ${context.df.currentUtcDateTime.toISOString()}.`);
        const isClear: boolean = yield context.df.callActivity(getIsClearActivityName, input.location);

        if (isClear) {
            context.log(`Detected clear weather for ${locationString}. Notifying ${input.phone}.`);
            yield context.df.callActivity(sendGoodWeatherAlertActivityName, input.phone);
            break;
        } else {
            const nextCheckpoint = new Date(context.df.currentUtcDateTime.getTime() + 30 * 1000);
            context.log(`Next check for ${locationString} at ${nextCheckpoint.toISOString()}`);
            yield context.df.createTimer(nextCheckpoint);
        }
    }
    context.log("Monitor expiring.");
};
df.app.orchestration("weatherMonitor", weatherMonitor);

function verifyRequest(request: Partial<WeatherMonitorInput> | undefined): void {
    if (!request) {
        throw new Error("An input object is required.");
    }
    if (!request.location) {
        throw new Error("A location input is required.");
    }
    if (!request.location.city) {
        throw new Error("A city is required on the location input.");
    }
    if (!request.location.country) {
        throw new Error("A country code is required on location input.");
    }
    if ((request.location.country === "USA" || request.location.country === "US") && !request.location.state) {
        throw new Error("A state code is required on location input for US locations.");
    }
    if (!request.phone) {
        throw new Error("A phone number input is required.");
    }
}

const getIsClearActivity: ActivityHandler = async function (location: Location, context: InvocationContext): Promise<boolean> {
    try {
        const currentConditions = await getCurrentConditions(location);
        return clearWeatherConditions.includes(currentConditions.description);
    } catch (err) {
        context.log(`${getIsClearActivityName} encountered an error: ${err}`);
        throw err;
    }
};
df.app.activity(getIsClearActivityName, { handler: getIsClearActivity });

async function getCurrentConditions(location: Location): Promise<WeatherData> {
    const base = process.env.OpenWeatherMapApiUrl ?? "https://api.openweathermap.org";
    const query = location.state ? `${location.city},${location.state},${location.country}` : `${location.city},${location.country}`;
    const response = await fetch(`${base}/data/2.5/weather?q=${encodeURIComponent(query)}&appid=${process.env.OpenWeatherMapApiKey}`);
    if (!response.ok) throw new Error(`The weather service answered ${response.status}.`);
    const body = (await response.json()) as { weather: WeatherData[] };
    return body.weather[0]!;
}

const twilioOutput = output.generic({
    type: "twilioSms",
    from: "%TwilioPhoneNumber%",
    accountSidSetting: "TwilioAccountSid",
    authTokenSetting: "TwilioAuthToken",
});

const sendGoodWeatherAlertActivity: ActivityHandler = function (phoneNumber: string, context: InvocationContext): void {
    context.extraOutputs.set(twilioOutput, {
        body: "The weather's clear outside! Go talk a walk!",
        to: phoneNumber,
    });
};
df.app.activity(sendGoodWeatherAlertActivityName, {
    extraOutputs: [twilioOutput],
    handler: sendGoodWeatherAlertActivity,
});
