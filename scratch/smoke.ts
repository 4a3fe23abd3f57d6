import * as df from "../src/index.ts";
const app = df.createApp();
app.activity("hello", { handler: (name: string) => `Hello ${name}` });
app.orchestration("seq", function* (ctx) {
  const out = [];
  out.push(yield ctx.df.callActivity("hello", "Tokyo"));
  out.push(yield ctx.df.callActivity("hello", "Seattle"));
  const all = yield ctx.df.Task.all([ctx.df.callActivity("hello", "a"), ctx.df.callActivity("hello", "b")]);
  out.push(all);
  yield ctx.df.createTimer(new Date(ctx.df.currentUtcDateTime.getTime() + 50));
  return out;
});
for (const store of ["memory:", "sqlite:/tmp/smoke/x.db"]) {
  const host = df.createHost({ store, port: 0, app });
  await host.start();
  const t = Date.now();
  const id = await host.client.startNew("seq");
  const st = await host.client.waitForCompletion(id, { timeoutInMilliseconds: 5000 });
  console.log(store, st.runtimeStatus, JSON.stringify(st.output), Date.now() - t, "ms", host.url);
  const h = await host.client.getStatus(id, { showHistory: true });
  console.log(h.history!.map((e) => e.type).join(","));
  await host.stop();
}
