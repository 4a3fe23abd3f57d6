/** Where Perdure puts the durable client on the invocation contexts it creates (`df.getClient(context)`). */
export const CLIENT_KEY: unique symbol = Symbol.for("perdure.durableClient") as never;
