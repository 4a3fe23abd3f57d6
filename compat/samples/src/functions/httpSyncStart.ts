import { app, HttpHandler, HttpRequest, HttpResponse, InvocationContext } from "perdure/azure-functions";
import * as df from "perdure";

// Starts an orchestration and answers with its output when it finishes within `timeout` seconds
// (default 30), polling every `retryInterval` seconds (default 1); else the check-status response.
const httpSyncStart: HttpHandler = async function (request: HttpRequest, context: InvocationContext): Promise<HttpResponse> {
    const client = df.getClient(context);
    const body: unknown = await request.json();
    const instanceId: string = await client.startNew(request.params.orchestratorName, { input: body });

    context.log(`Started orchestration with ID = '${instanceId}'.`);

    const timeoutInMilliseconds: number = getTimeInMilliseconds(request, "timeout") || 30000;
    const retryIntervalInMilliseconds: number = getTimeInMilliseconds(request, "retryInterval") || 1000;

    return client.waitForCompletionOrCreateCheckStatusResponse(request, instanceId, {
        timeoutInMilliseconds,
        retryIntervalInMilliseconds,
    });
};

app.http("httpSyncStart", {
    methods: ["POST"],
    route: "orchestrators/wait/{orchestratorName}",
    authLevel: "anonymous",
    extraInputs: [df.input.durableClient()],
    handler: httpSyncStart,
});

function getTimeInMilliseconds(request: HttpRequest, queryParameterName: string): number | undefined {
    // The parameters are in seconds.
    const seconds = parseInt(request.query.get(queryParameterName) ?? "", 10);
    return seconds ? seconds * 1000 : undefined;
}
