// The tahc API from a browser page: GraphQL over HTTP, live subscriptions
// over graphql-transport-ws (the vendored graphql-ws client, loaded as
// /assets/graphql-ws.min.js before this module), and a small DOM helper.

/** A GraphQL error or user error, with its code. */
export class ApiError extends Error {
  constructor(message, code) {
    super(message);
    this.code = code;
  }
}

/** The API as one credential (a team key or a visitor token) sees it. */
export class Api {
  constructor(credential) {
    this.credential = credential;
    this.client = null;
  }

  /** Runs a query or mutation; its `data`, or throws ApiError. */
  async request(query, variables = {}) {
    const response = await fetch('/graphql', {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json',
        authorization: `Bearer ${this.credential}`,
      },
      body: JSON.stringify({ query, variables }),
    });
    const body = await response.json();
    if (body.errors && body.errors.length) {
      const [first] = body.errors;
      throw new ApiError(first.message, first.extensions && first.extensions.code);
    }
    return body.data;
  }

  /** Runs mutation `name`; its payload, or throws its first user error. */
  async mutate(name, query, variables = {}) {
    const payload = (await this.request(query, variables))[name];
    if (payload && payload.userErrors && payload.userErrors.length) {
      const [first] = payload.userErrors;
      throw new ApiError(first.message, first.code);
    }
    return payload;
  }

  /**
   * Follows a subscription: `onData` gets each change's `data`. The
   * connection reconnects by itself; `onConnected` runs on every
   * (re)connection, so a page can refetch what it may have missed.
   * Returns a function that stops following.
   */
  subscribe(query, variables, onData, onConnected = () => {}) {
    if (!this.client) {
      const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/graphql`;
      this.connectedHooks = [];
      this.client = globalThis.graphqlWs.createClient({
        url,
        connectionParams: { authorization: `Bearer ${this.credential}` },
        retryAttempts: Infinity,
        shouldRetry: () => true,
        on: { connected: () => this.connectedHooks.forEach((hook) => hook()) },
      });
    }
    this.connectedHooks.push(onConnected);
    return this.client.subscribe(
      { query, variables },
      {
        next: (result) => result.data && onData(result.data),
        error: (error) => console.warn('subscription ended', error),
        complete: () => {},
      },
    );
  }

  /** Closes the live connection. */
  close() {
    if (this.client) this.client.dispose();
    this.client = null;
  }
}

/**
 * Builds an element: `h('li', {class: 'x', onclick: f}, 'text', child)`.
 * Text is always set as text, never parsed as HTML.
 */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on')) element.addEventListener(name.slice(2), value);
    else if (name === 'dataset') Object.assign(element.dataset, value);
    else element.setAttribute(name, value === true ? '' : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

/** "3 min ago", "yesterday 14:02" and the like, for a timestamp. */
export function when(timestamp) {
  if (!timestamp) return '';
  const at = new Date(timestamp);
  const seconds = (Date.now() - at.getTime()) / 1000;
  if (seconds < 60) return 'just now';
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400) return at.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  return at.toLocaleDateString();
}
