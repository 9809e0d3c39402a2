// The two parts of undici the PVE client uses, its Agent (connection pools) and its request API,
// loaded from their own modules instead of the package's entry point: the entry point also loads
// undici's fetch, WebSocket, EventSource, caches, cookies, mocks and interceptors, which labdeck's
// server never calls (in a bare node: 4.8 MB of V8 heap for the entry point, 1.8 MB for these).
// The same files the entry point loads, so an Agent made here is the entry point's Agent too.
import { createRequire } from 'node:module';
import type { Agent as UndiciAgent, Dispatcher } from 'undici';

const require = createRequire(import.meta.url);

export const Agent = require('undici/lib/dispatcher/agent.js') as typeof UndiciAgent;
const apiRequest = require('undici/lib/api/api-request.js') as (this: Dispatcher, opts: Dispatcher.RequestOptions) => Promise<Dispatcher.ResponseData>;

export interface RequestOptions {
  method: Dispatcher.HttpMethod;
  headers: Record<string, string>;
  body?: string;
  signal: AbortSignal;
  dispatcher: Dispatcher;
}

/** undici's `request(url, opts)`: the URL split into origin and path as its entry point does. */
export function request(url: URL, opts: RequestOptions): Promise<Dispatcher.ResponseData> {
  const { dispatcher, ...rest } = opts;
  return apiRequest.call(dispatcher, { ...rest, origin: url.origin, path: url.search ? `${url.pathname}${url.search}` : url.pathname });
}
