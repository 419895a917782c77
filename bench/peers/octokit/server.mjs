// Peer receiver for bench/run.sh: @octokit/webhooks 14 verifying
// X-Hub-Signature-256 through createNodeMiddleware on node:http, with a
// workflow_job handler that stores nothing.
//   PORT=... SECRET=... node server.mjs
import { createServer } from "node:http";
import { Webhooks, createNodeMiddleware } from "@octokit/webhooks";

const webhooks = new Webhooks({ secret: process.env.SECRET ?? "bench-secret" });
let jobs = 0;
webhooks.on("workflow_job", ({ payload }) => {
  if (payload.workflow_job) jobs++;
});
const middleware = createNodeMiddleware(webhooks, { path: "/webhook" });
const server = createServer(async (req, res) => {
  if (await middleware(req, res)) return;
  res.writeHead(404).end();
});
server.keepAliveTimeout = 60000;
server.listen(Number(process.env.PORT ?? 3000), "127.0.0.1");
