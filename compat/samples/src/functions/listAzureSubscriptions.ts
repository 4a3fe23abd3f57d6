import * as df from "perdure";
import { OrchestrationContext, OrchestrationHandler } from "perdure";

// A durable HTTP call with a managed identity's token. ArmEndpoint lets a test stand in for Azure
// Resource Manager; Azure's own endpoint is the default.
const armEndpoint = process.env.ArmEndpoint ?? "https://management.azure.com";

const listAzureSubscriptions: OrchestrationHandler = function* (context: OrchestrationContext) {
    const res: unknown = yield context.df.callHttp({
        method: "GET",
        url: `${armEndpoint}/subscriptions?api-version=2019-06-01`,
        tokenSource: new df.ManagedIdentityTokenSource("https://management.core.windows.net"),
    });
    return res;
};
df.app.orchestration("listAzureSubscriptions", listAzureSubscriptions);
