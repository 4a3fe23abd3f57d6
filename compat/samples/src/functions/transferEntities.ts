import * as df from "perdure";
import { DurableLock, EntityContext, EntityHandler, OrchestrationContext, OrchestrationHandler } from "perdure";

const accountEntityName = "transferAccount";

const accountEntity: EntityHandler<number> = async function (context: EntityContext<number>): Promise<void> {
    await Promise.resolve();
    let balance: number = context.df.getState(() => 0);

    switch (context.df.operationName) {
        case "add":
            balance += context.df.getInput<number>();
            break;
        case "get":
            context.df.return(balance);
            break;
    }
    context.df.setState(balance);
};
df.app.entity(accountEntityName, accountEntity);

interface TransferInput {
    fromKey: string;
    toKey: string;
    amount: number;
}

// A critical section: both accounts are locked, so no other orchestration sees the money in between.
const transferOrchestration: OrchestrationHandler = function* (context: OrchestrationContext) {
    const { fromKey, toKey, amount } = context.df.getInput<TransferInput>();
    const src = new df.EntityId(accountEntityName, fromKey);
    const dst = new df.EntityId(accountEntityName, toKey);

    const lock = (yield context.df.lock(src, dst)) as DurableLock;
    try {
        const balance: number = yield context.df.callEntity(src, "get");
        if (balance >= amount) {
            yield context.df.callEntity(src, "add", -amount);
            yield context.df.callEntity(dst, "add", amount);
            return { transferred: true, locks: lock.ownedLocks.length };
        }
        return { transferred: false, reason: "insufficient funds" };
    } finally {
        lock.release();
    }
};
df.app.orchestration("transferEntities", transferOrchestration);
