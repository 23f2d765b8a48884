// The graphql-ws npm client (as an agent console or a bot would use it)
// against a running `tahc serve`: subscribe, receive, resume with `after`,
// and the close code of refused credentials.
//
// Usage: node graphql-ws-client.mjs <base url> <admin key>
// Exits 0 when every check holds; prints what failed otherwise.

import { createClient } from "graphql-ws";
import WebSocket from "ws";

const [base, adminKey] = process.argv.slice(2);
if (!base || !adminKey) {
  console.error("usage: node graphql-ws-client.mjs <base url> <admin key>");
  process.exit(2);
}
const wsUrl = `${base.replace(/^http/, "ws")}/graphql`;

const INBOX = `subscription($after: String) {
  conversationChanges(after: $after) { kind position message { body } }
}`;

function check(condition, message) {
  if (!condition) throw new Error(message);
}

async function graphql(credential, query, variables = {}) {
  const response = await fetch(`${base}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${credential}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  check(!body.errors, `${query}: ${JSON.stringify(body.errors)}`);
  return body.data;
}

function client(credential, extra = {}) {
  return createClient({
    url: wsUrl,
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${credential}` },
    retryAttempts: 0,
    ...extra,
  });
}

/** Collects changes from `iterator` until one carries message `last`. */
async function until(iterator, last) {
  const changes = [];
  for await (const result of iterator) {
    check(!result.errors, JSON.stringify(result.errors));
    const change = result.data.conversationChanges;
    changes.push(change);
    if (change.message?.body === last) return changes;
  }
  throw new Error(`the subscription ended before ${last}`);
}

async function post(token, conversation, body) {
  const data = await graphql(
    token,
    "mutation($c: ID!, $b: String!) { sendMessage(input: {conversationId: $c, body: $b}) { message { id } } }",
    { c: conversation, b: body },
  );
  check(data.sendMessage.message, `sendMessage ${body} failed`);
}

async function main() {
  const { viewer } = await graphql(adminKey, "{ viewer { workspace { id } } }");
  const session = await (
    await fetch(`${base}/widget/session`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ workspace: viewer.workspace.id }),
    })
  ).json();
  const token = session.token;

  // Live: the agent console follows the inbox. graphql-ws connects on the
  // first read, so start reading and let the subscription settle first.
  let connected;
  const ready = new Promise((resolve) => (connected = resolve));
  const agent = client(adminKey, { on: { connected: () => connected() } });
  const iterator = agent.iterate({ query: INBOX });
  const head = iterator.next();
  await ready;
  await new Promise((resolve) => setTimeout(resolve, 200));
  const live = (async function* () {
    yield (await head).value;
    yield* iterator;
  })();
  const { startConversation } = await graphql(
    token,
    'mutation { startConversation(input: {body: "hello from node"}) { conversation { id } } }',
  );
  const conversation = startConversation.conversation.id;
  await post(token, conversation, "n1");
  const first = await until(live, "n1");
  check(first[0].kind === "CREATED", `first change is ${first[0].kind}`);
  const positions = first.map((c) => BigInt(c.position));
  check(positions.every((p, i) => i === 0 || p > positions[i - 1]), "positions must grow");
  await iterator.return();
  await agent.dispose();

  // Resume: what happened while away arrives once, in order.
  const resumeAt = first[first.length - 1].position;
  for (const body of ["n2", "n3", "n4"]) await post(token, conversation, body);
  const again = client(adminKey);
  const resumed = await until(again.iterate({ query: INBOX, variables: { after: resumeAt } }), "n4");
  const bodies = resumed.map((c) => c.message?.body).filter(Boolean);
  check(JSON.stringify(bodies) === JSON.stringify(["n2", "n3", "n4"]), `resumed ${bodies}`);
  await again.dispose();

  // The visitor follows its own conversation with its token.
  const widget = createClient({
    url: wsUrl,
    webSocketImpl: WebSocket,
    connectionParams: { token },
    retryAttempts: 0,
  });
  const timeline = widget.iterate({
    query: "subscription($c: ID!) { conversationTimeline(conversationId: $c) { kind message { body } } }",
    variables: { c: conversation },
  });
  const firstOfTimeline = timeline.next();
  await new Promise((resolve) => setTimeout(resolve, 300));
  await post(token, conversation, "n5");
  const mine = (await firstOfTimeline).value.data.conversationTimeline;
  check(mine.message?.body === "n5", `the visitor saw ${JSON.stringify(mine)}`);
  await widget.dispose();

  // Refused credentials: the socket closes with 4403.
  const closed = await new Promise((resolve) => {
    const refused = client("tahc_not_a_key", { on: { closed: (event) => resolve(event.code) } });
    refused.iterate({ query: INBOX }).next().catch(() => {});
  });
  check(closed === 4403, `refused credentials closed with ${closed}`);

  console.log(JSON.stringify({ ok: true, changes: first.length + resumed.length }));
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(`graphql-ws client test failed: ${error.stack ?? error}`);
    process.exit(1);
  },
);
