// The agent inbox: the conversation list with its filters and counts, a
// conversation with its timeline and actions, the contact beside it, the
// contacts page, and who of the team is viewing or typing where. Live
// without a reload: one `conversationChanges` subscription refreshes what
// a change touches, `teamActivity` shows the team.

import { Api, ApiError, h, when } from '/assets/api.js';

const $ = (id) => document.getElementById(id);
const KEY = 'tahc.agentKey';

const CONVERSATION = `id status controller createdAt lastActivityAt
  handoff { reason acceptedAt } assignee { id name }
  visitor { id displayName blocked unverifiedEmail claimedContact { id name email } }
  contact { id name email }
  lastMessage { body authorKind internal }`;

const FILTERS = [
  { id: 'open', label: 'Open', filter: { status: ['OPEN'] }, count: 'open' },
  { id: 'pending', label: 'Pending', filter: { status: ['PENDING'] }, count: 'pending' },
  { id: 'closed', label: 'Closed', filter: { status: ['CLOSED'] }, count: 'closed' },
  { id: 'mine', label: 'Mine', filter: (me) => ({ assigneeId: me, status: ['OPEN', 'PENDING'] }), count: 'mine' },
  { id: 'unassigned', label: 'Unassigned', filter: { unassigned: true, status: ['OPEN', 'PENDING'] }, count: 'unassigned' },
  { id: 'awaiting', label: 'Awaiting human', filter: { awaitingHuman: true, status: ['OPEN', 'PENDING'] }, count: 'awaitingHuman' },
  { id: 'snoozed', label: 'Snoozed', filter: { snoozed: true }, count: null },
  { id: 'all', label: 'All', filter: {}, count: null },
];

const state = {
  api: null,
  viewer: null,
  agents: [],
  fieldDefinitions: [],
  filter: 'open',
  selected: null,
  activity: new Map(),
  refreshTimer: null,
  typingSent: 0,
};

// ------------------------------------------------------------------ login

async function logIn(key) {
  const api = new Api(key);
  const { viewer } = await api.request(
    '{ viewer { role agent { id name } workspace { id name } } }',
  );
  if (!viewer.agent) throw new ApiError('This is not an agent key.', 'FORBIDDEN');
  state.api = api;
  state.viewer = viewer;
  localStorage.setItem(KEY, key);
  $('login').hidden = true;
  $('nav').hidden = false;
  $('logout').hidden = false;
  $('who').textContent = `${viewer.agent.name} (${viewer.role.toLowerCase()}) · ${viewer.workspace.name}`;
  const { customFieldDefinitions } = await api.request(
    '{ customFieldDefinitions { key label type } }',
  );
  state.fieldDefinitions = customFieldDefinitions;
  showInbox();
  api.subscribe(
    'subscription { conversationChanges { kind position conversation { id } } }',
    {},
    (data) => changed(data.conversationChanges),
    () => refreshSoon(),
  );
  api.subscribe(
    'subscription { teamActivity { agent { id name } conversation { id visitor { displayName } } kind at } }',
    {},
    (data) => teamActivity(data.teamActivity),
  );
}

function logOut() {
  if (state.api) state.api.close();
  localStorage.removeItem(KEY);
  location.reload();
}

// ------------------------------------------------------------------ inbox

function showInbox() {
  $('inbox').hidden = false;
  $('contacts').hidden = true;
  $('show-inbox').classList.add('active');
  $('show-contacts').classList.remove('active');
  refreshList();
}

function changed(change) {
  refreshSoon();
  if (state.selected && change.conversation.id === state.selected) refreshDetail();
}

/** Refreshes the list and counts once for a burst of changes. */
function refreshSoon() {
  clearTimeout(state.refreshTimer);
  state.refreshTimer = setTimeout(refreshList, 80);
}

async function refreshList() {
  const chosen = FILTERS.find((f) => f.id === state.filter);
  const filter = typeof chosen.filter === 'function'
    ? chosen.filter(state.viewer.agent.id)
    : chosen.filter;
  const data = await state.api.request(
    `query Inbox($filter: ConversationFilter) {
      conversationCounts { open pending closed unassigned awaitingHuman mine }
      conversations(first: 50, filter: $filter, orderBy: { field: LAST_ACTIVITY_AT, direction: DESC }) {
        totalCount nodes { ${CONVERSATION} }
      }
    }`,
    { filter },
  );
  renderFilters(data.conversationCounts);
  renderList(data.conversations.nodes);
}

function renderFilters(counts) {
  $('filters').replaceChildren(
    ...FILTERS.map((f) => h(
      'button',
      {
        class: `filter${f.id === state.filter ? ' active' : ''}`,
        dataset: { filter: f.id },
        onclick: () => { state.filter = f.id; refreshList(); },
      },
      f.label,
      f.count ? h('span', { class: 'count' }, counts[f.count]) : null,
    )),
  );
}

function visitorName(conversation) {
  const contact = conversation.contact;
  if (contact && (contact.name || contact.email)) {
    return contact.name ? `${contact.name}${contact.email ? ` <${contact.email}>` : ''}` : contact.email;
  }
  return conversation.visitor.displayName;
}

function renderList(conversations) {
  $('list-empty').hidden = conversations.length > 0;
  $('conversations').tBodies[0].replaceChildren(
    ...conversations.map((c) => h(
      'tr',
      {
        class: c.id === state.selected ? 'selected' : '',
        dataset: { conversation: c.id },
        onclick: () => select(c.id),
      },
      h('td', {}, h('span', { class: `status ${c.status.toLowerCase()}` }, c.status.toLowerCase()),
        c.handoff && !c.handoff.acceptedAt ? h('span', { class: 'badge' }, 'wants a human') : null),
      h('td', {}, visitorName(c)),
      h('td', { class: 'preview' }, c.lastMessage
        ? `${c.lastMessage.internal ? '[note] ' : ''}${c.lastMessage.body}` : ''),
      h('td', { class: 'muted' }, when(c.lastActivityAt)),
      h('td', {}, c.assignee ? c.assignee.name : h('span', { class: 'muted' }, '—')),
    )),
  );
}

// ------------------------------------------------------------ conversation

async function select(id) {
  if (state.selected && state.selected !== id) report(state.selected, 'LEFT');
  state.selected = id;
  for (const row of $('conversations').tBodies[0].rows) {
    row.classList.toggle('selected', row.dataset.conversation === id);
  }
  report(id, 'VIEWING');
  await refreshDetail();
}

async function refreshDetail() {
  const id = state.selected;
  const { conversation, agents } = await state.api.request(
    `query Detail($id: ID!) { agents { id name active } conversation(id: $id) { ${CONVERSATION}
      messages(last: 100) { nodes { id authorKind agent { name } body internal createdAt } } } }`,
    { id },
  );
  if (id !== state.selected) return;
  state.agents = agents.filter((agent) => agent.active);
  if (!conversation) {
    $('detail').replaceChildren(h('p', { class: 'muted' }, 'This conversation is gone.'));
    return;
  }
  renderDetail(conversation);
  renderContact(conversation);
}

const AUTHOR = { VISITOR: 'Visitor', AI: 'AI', AGENT: 'Agent', SYSTEM: 'System' };

function renderDetail(c) {
  const act = (label, name, mutation, variables = {}) => h('button', {
    class: 'action',
    dataset: { action: name },
    onclick: () => run(name, mutation, { conversationId: c.id, ...variables }),
  }, label);
  const statusMutation = 'mutation($conversationId: ID!, $status: ConversationStatus!) { setConversationStatus(input: { conversationId: $conversationId, status: $status }) { userErrors { message code } } }';
  const assign = h('select', {
    dataset: { action: 'assign' },
    onchange: (event) => run('assignConversation',
      'mutation($conversationId: ID!, $assigneeId: ID) { assignConversation(input: { conversationId: $conversationId, assigneeId: $assigneeId }) { userErrors { message code } } }',
      { conversationId: c.id, assigneeId: event.target.value || null }),
  },
  h('option', { value: '' }, 'Unassigned'),
  ...state.agents.map((agent) => h('option', {
    value: agent.id, selected: c.assignee && c.assignee.id === agent.id,
  }, agent.name)));
  const watching = [...state.activity.values()]
    .filter((a) => a.conversation.id === c.id && a.agent.id !== state.viewer.agent.id)
    .map((a) => `${a.agent.name} is ${a.kind === 'TYPING' ? 'typing' : 'viewing'}`);
  const messages = c.messages.nodes.map((m) => h(
    'li',
    { class: `message ${m.authorKind.toLowerCase()}${m.internal ? ' internal' : ''}` },
    h('div', { class: 'meta' },
      m.internal ? 'Internal note · ' : '',
      m.agent ? `${AUTHOR[m.authorKind]} · ${m.agent.name}` : AUTHOR[m.authorKind],
      ` · ${when(m.createdAt)}`),
    h('div', { class: 'body' }, m.body),
  ));
  const body = h('textarea', {
    id: 'reply-body',
    placeholder: 'Write a reply…',
    oninput: () => typing(c.id),
  });
  const internal = h('input', { type: 'checkbox', id: 'reply-internal' });
  const form = h('form', {
    class: 'composer',
    onsubmit: async (event) => {
      event.preventDefault();
      if (!body.value.trim()) return;
      const ok = await run('sendMessage',
        'mutation($conversationId: ID!, $body: String!, $internal: Boolean) { sendMessage(input: { conversationId: $conversationId, body: $body, internal: $internal }) { userErrors { message code } } }',
        { conversationId: c.id, body: body.value, internal: internal.checked });
      if (ok) body.value = '';
    },
  },
  body,
  h('label', {}, internal, ' Internal note'),
  h('button', { type: 'submit', id: 'reply-send' }, 'Send'));
  $('detail').replaceChildren(
    h('div', { class: 'detail-head' },
      h('h2', {}, visitorName(c)),
      h('span', { class: `status ${c.status.toLowerCase()}` }, c.status.toLowerCase()),
      h('span', { class: 'muted' }, c.controller === 'AI' ? 'AI is answering' : 'A human is answering'),
      c.visitor.blocked ? h('span', { class: 'badge' }, 'blocked') : null),
    h('div', { class: 'actions' },
      c.controller === 'AI'
        ? act('Take over', 'takeOver', 'mutation($conversationId: ID!) { takeOver(input: { conversationId: $conversationId }) { userErrors { message code } } }')
        : act('Return to AI', 'returnToAi', 'mutation($conversationId: ID!) { returnToAi(input: { conversationId: $conversationId }) { userErrors { message code } } }'),
      assign,
      c.status !== 'OPEN' ? act('Reopen', 'open', statusMutation, { status: 'OPEN' }) : null,
      c.status !== 'PENDING' ? act('Pending', 'pending', statusMutation, { status: 'PENDING' }) : null,
      c.status !== 'CLOSED' ? act('Close', 'close', statusMutation, { status: 'CLOSED' }) : null,
      c.visitor.blocked ? null : h('button', {
        class: 'action danger',
        dataset: { action: 'block' },
        onclick: () => confirm('Block this visitor? They can no longer write.') && run('blockVisitor',
          'mutation($visitorId: ID!) { blockVisitor(input: { visitorId: $visitorId }) { userErrors { message code } } }',
          { visitorId: c.visitor.id }),
      }, 'Block')),
    h('p', { class: 'watching muted' }, watching.join(' · ')),
    h('ol', { class: 'timeline', id: 'timeline' }, messages),
    h('p', { class: 'error', id: 'action-error', role: 'alert' }),
    form,
  );
  const timeline = $('timeline');
  timeline.scrollTop = timeline.scrollHeight;
}

/**
 * Runs a mutation; shows its error, if any, and says whether it worked.
 * The open conversation is shown again (a change to its visitor, say, is
 * no change to the conversation the live feed would announce).
 */
async function run(name, mutation, variables) {
  try {
    await state.api.mutate(name, mutation, variables);
    const error = $('action-error');
    if (error) error.textContent = '';
    if (state.selected) refreshDetail();
    return true;
  } catch (error) {
    const shown = $('action-error');
    if (shown) shown.textContent = error.message;
    return false;
  }
}

function report(conversationId, kind) {
  state.api.request(
    'mutation($c: ID!, $k: ActivityKind!) { reportActivity(input: { conversationId: $c, kind: $k }) }',
    { c: conversationId, k: kind },
  ).catch(() => {});
}

function typing(conversationId) {
  if (Date.now() - state.typingSent < 3000) return;
  state.typingSent = Date.now();
  report(conversationId, 'TYPING');
}

// ------------------------------------------------------------- contact

// A visitor who gave an address another contact holds: unverified until
// someone on the team has seen proof (a reply from that mailbox, say).
function claim(visitor) {
  const holder = visitor.claimedContact;
  const who = holder ? (holder.name ? `${holder.name} <${holder.email}>` : holder.email) : 'another contact';
  return h('div', { class: 'claim', id: 'visitor-claim' },
    h('p', {}, h('span', { class: 'badge unverified' }, 'unverified'), ` ${visitor.unverifiedEmail}`),
    h('p', { class: 'muted' },
      `This address belongs to ${who}. Confirm only once the visitor has proven it; until then their conversations stay apart.`),
    h('button', {
      id: 'visitor-claim-confirm',
      onclick: () => run('confirmVisitorEmail',
        'mutation($visitorId: ID!) { confirmVisitorEmail(input: { visitorId: $visitorId }) { userErrors { message code } } }',
        { visitorId: visitor.id }).then(refreshSoon),
    }, 'Confirm email'));
}

async function renderContact(conversation) {
  const panel = $('contact-panel');
  if (!conversation.contact) {
    const { visitor } = conversation;
    panel.replaceChildren(h('h3', {}, 'Visitor'),
      h('p', {}, visitor.displayName),
      visitor.unverifiedEmail
        ? claim(visitor)
        : h('p', { class: 'muted' }, 'No email yet: the visitor becomes a contact once they give one.'));
    return;
  }
  const { contact } = await state.api.request(
    `query Contact($id: ID!) { contact(id: $id) { id name email firstSeenAt lastActiveAt conversationCount
      notes { id body author { name } createdAt } customFields { key label type value }
      conversations(first: 10) { nodes { id status lastActivityAt lastMessage { body } } } } }`,
    { id: conversation.contact.id },
  );
  if (!contact) return;
  const name = h('input', { value: contact.name || '', id: 'contact-name', 'aria-label': 'Name' });
  const email = h('input', { value: contact.email || '', id: 'contact-email', 'aria-label': 'Email' });
  const note = h('textarea', { id: 'contact-note', placeholder: 'Add a note for the team…' });
  const fields = state.fieldDefinitions.map((definition) => {
    const current = contact.customFields.find((f) => f.key === definition.key);
    const input = h('input', { value: current && current.value !== null ? current.value : '' });
    return h('label', { class: 'field' }, definition.label, input, h('button', {
      onclick: () => run('setContactCustomField',
        'mutation($contactId: ID!, $key: String!, $value: JSON) { setContactCustomField(input: { contactId: $contactId, key: $key, value: $value }) { userErrors { message code } } }',
        { contactId: contact.id, key: definition.key, value: fieldValue(definition.type, input.value) })
        .then(() => renderContact(conversation)),
    }, 'Save'));
  });
  panel.replaceChildren(...[
    h('h3', {}, 'Contact'),
    h('label', { class: 'field' }, 'Name', name),
    h('label', { class: 'field' }, 'Email', email),
    h('button', {
      id: 'contact-save',
      onclick: () => run('updateContact',
        'mutation($contactId: ID!, $name: String, $email: String) { updateContact(input: { contactId: $contactId, name: $name, email: $email }) { userErrors { message code } } }',
        { contactId: contact.id, name: name.value || null, email: email.value || null })
        .then(() => { refreshSoon(); renderContact(conversation); }),
    }, 'Save'),
    h('p', { class: 'muted' },
      `First seen ${when(contact.firstSeenAt)} · last active ${when(contact.lastActiveAt)} · ${contact.conversationCount} conversation(s)`),
    fields.length ? h('h4', {}, 'Fields') : null,
    ...fields,
    h('h4', {}, 'History'),
    h('ul', { class: 'history' }, contact.conversations.nodes.map((c) => h('li', {
      onclick: () => select(c.id),
    }, `${c.status.toLowerCase()} · ${when(c.lastActivityAt)} · ${c.lastMessage ? c.lastMessage.body : ''}`))),
    h('h4', {}, 'Notes'),
    h('ul', { class: 'notes', id: 'contact-notes' }, contact.notes.map((n) => h('li', {},
      h('div', {}, n.body), h('div', { class: 'muted' }, `${n.author.name} · ${when(n.createdAt)}`)))),
    note,
    h('button', {
      id: 'contact-note-add',
      onclick: () => note.value.trim() && run('addContactNote',
        'mutation($contactId: ID!, $body: String!) { addContactNote(input: { contactId: $contactId, body: $body }) { userErrors { message code } } }',
        { contactId: contact.id, body: note.value }).then(() => renderContact(conversation)),
    }, 'Add note'),
  ].filter(Boolean));
}

function fieldValue(type, text) {
  if (text === '') return null;
  if (type === 'NUMBER') return Number(text);
  if (type === 'BOOLEAN') return text === 'true';
  return text;
}

// --------------------------------------------------------------- activity

function teamActivity(activity) {
  const key = activity.agent.id;
  if (activity.kind === 'LEFT') state.activity.delete(key);
  else state.activity.set(key, { ...activity, seen: Date.now() });
  renderActivity();
}

function renderActivity() {
  const now = Date.now();
  for (const [key, activity] of state.activity) {
    if (now - activity.seen > 30000) state.activity.delete(key);
  }
  const others = [...state.activity.values()].filter((a) => a.agent.id !== state.viewer.agent.id);
  $('activity').textContent = others.length
    ? others.map((a) => `${a.agent.name} is ${a.kind === 'TYPING' ? 'typing' : 'viewing'} · ${a.conversation.visitor.displayName}`).join('   ')
    : 'Nobody else is active right now.';
  const watching = document.querySelector('.watching');
  if (watching && state.selected) {
    watching.textContent = others.filter((a) => a.conversation.id === state.selected)
      .map((a) => `${a.agent.name} is ${a.kind === 'TYPING' ? 'typing' : 'viewing'}`).join(' · ');
  }
}

// --------------------------------------------------------------- contacts

async function showContacts() {
  $('inbox').hidden = true;
  $('contacts').hidden = false;
  $('show-inbox').classList.remove('active');
  $('show-contacts').classList.add('active');
  await refreshContacts();
}

async function refreshContacts() {
  const search = $('contact-search').value.trim() || null;
  const { contacts } = await state.api.request(
    `query Contacts($search: String) { contacts(first: 100, search: $search, orderBy: { field: LAST_ACTIVE_AT, direction: DESC }) {
      nodes { id name email conversationCount lastActiveAt } } }`,
    { search },
  );
  $('contact-list').tBodies[0].replaceChildren(...contacts.nodes.map((c) => h('tr', {},
    h('td', {}, c.name || '—'), h('td', {}, c.email || '—'),
    h('td', {}, c.conversationCount), h('td', { class: 'muted' }, when(c.lastActiveAt)))));
}

async function downloadCsv() {
  const response = await fetch('/export/contacts.csv', {
    headers: { authorization: `Bearer ${state.api.credential}` },
  });
  if (!response.ok) {
    alert(`The export failed (${response.status}).`);
    return;
  }
  const link = h('a', { href: URL.createObjectURL(await response.blob()), download: 'contacts.csv' });
  document.body.append(link);
  link.click();
  link.remove();
}

// ------------------------------------------------------------------ start

$('login-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  try {
    await logIn($('key').value.trim());
  } catch (error) {
    $('login-error').textContent = error.code === 'UNAUTHENTICATED'
      ? 'This key is not valid.' : error.message;
  }
});
$('logout').addEventListener('click', logOut);
$('show-inbox').addEventListener('click', showInbox);
$('show-contacts').addEventListener('click', showContacts);
let searchTimer = null;
$('contact-search').addEventListener('input', () => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(refreshContacts, 200);
});
$('contacts-csv').addEventListener('click', downloadCsv);
window.addEventListener('beforeunload', () => state.selected && state.api && report(state.selected, 'LEFT'));
setInterval(() => state.viewer && renderActivity(), 10000);

const saved = localStorage.getItem(KEY);
if (saved) logIn(saved).catch(() => localStorage.removeItem(KEY));
