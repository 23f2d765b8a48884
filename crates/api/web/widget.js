// The widget demo: a visitor gets a token for the workspace, starts a
// conversation with its first message, and sees every reply (AI or human)
// live on `conversationTimeline`; it can ask for a human and leave an email.

import { Api, h, when } from '/assets/api.js';

const $ = (id) => document.getElementById(id);
const workspace = new URLSearchParams(location.search).get('workspace');
const AUTHOR = { VISITOR: 'You', AI: 'AI assistant', AGENT: 'Support', SYSTEM: '' };

const state = { api: null, conversation: null, seen: new Set() };

function stored(name) {
  return localStorage.getItem(`tahc.widget.${workspace}.${name}`);
}

function store(name, value) {
  localStorage.setItem(`tahc.widget.${workspace}.${name}`, value);
}

function fail(error) {
  $('widget-error').textContent = error.message || String(error);
}

async function session() {
  let token = stored('token');
  if (!token) {
    const response = await fetch('/widget/session', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ workspace }),
    });
    const body = await response.json();
    if (!response.ok) throw new Error(body.error || `The chat is unavailable (${response.status}).`);
    token = body.token;
    store('token', token);
  }
  state.api = new Api(token);
  const conversation = stored('conversation');
  if (conversation) follow(conversation);
}

function show(message) {
  if (state.seen.has(message.id)) return;
  state.seen.add(message.id);
  $('messages').append(h(
    'li',
    { class: `message ${message.authorKind.toLowerCase()}` },
    h('div', { class: 'meta' }, `${AUTHOR[message.authorKind]} · ${when(message.createdAt)}`),
    h('div', { class: 'body' }, message.body),
  ));
  $('messages').scrollTop = $('messages').scrollHeight;
}

async function follow(conversation) {
  state.conversation = conversation;
  $('ask-human').disabled = false;
  const catchUp = async () => {
    const data = await state.api.request(
      'query($id: ID!) { conversation(id: $id) { messages(last: 100) { nodes { id authorKind body createdAt } } } }',
      { id: conversation },
    );
    if (data.conversation) data.conversation.messages.nodes.forEach(show);
  };
  state.api.subscribe(
    'subscription($id: ID!) { conversationTimeline(conversationId: $id) { kind message { id authorKind body createdAt } } }',
    { id: conversation },
    (data) => data.conversationTimeline.message && show(data.conversationTimeline.message),
    () => catchUp().catch(fail),
  );
  await catchUp();
}

async function send(body) {
  if (!state.conversation) {
    const payload = await state.api.mutate('startConversation',
      'mutation($body: String!) { startConversation(input: { body: $body }) { conversation { id } message { id authorKind body createdAt } userErrors { message code } } }',
      { body });
    store('conversation', payload.conversation.id);
    show(payload.message);
    await follow(payload.conversation.id);
    return;
  }
  const payload = await state.api.mutate('sendMessage',
    'mutation($id: ID!, $body: String!) { sendMessage(input: { conversationId: $id, body: $body }) { message { id authorKind body createdAt } userErrors { message code } } }',
    { id: state.conversation, body });
  show(payload.message);
}

$('send-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const body = $('message').value.trim();
  if (!body || !state.api) return;
  $('message').value = '';
  $('widget-error').textContent = '';
  send(body).catch(fail);
});

$('ask-human').addEventListener('click', () => {
  state.api.mutate('requestHuman',
    'mutation($id: ID!) { requestHuman(input: { conversationId: $id, reason: CUSTOMER_REQUEST }) { userErrors { message code } } }',
    { id: state.conversation })
    .then(() => { $('ask-human').textContent = 'A human will answer soon'; $('ask-human').disabled = true; })
    .catch(fail);
});

$('email-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const email = $('email').value.trim();
  if (!email || !state.api) return;
  state.api.mutate('identifyVisitor',
    'mutation($email: String!) { identifyVisitor(input: { email: $email }) { contact { id } userErrors { message code } } }',
    { email })
    .then(() => { $('give-email').textContent = 'Saved'; })
    .catch(fail);
});

if (workspace) {
  session().catch(fail);
} else {
  $('workspace-form').hidden = false;
  $('workspace-form').addEventListener('submit', (event) => {
    event.preventDefault();
    location.search = `?workspace=${encodeURIComponent($('workspace').value.trim())}`;
  });
}
