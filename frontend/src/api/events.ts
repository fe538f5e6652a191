// One event stream per tab, shared by every live view: a stream ticket
// (POST /api/v1/events/ticket) opens GET /api/v1/events?ticket=… in an
// EventSource, which cannot send an Authorization header. A ticket is
// single-use, so every reconnection asks for a new one.
import { useEffect, useSyncExternalStore } from 'react';
import { api, ok, refresh } from './client';
import type { AppEvent } from './types';

export type StreamState = 'connecting' | 'live' | 'offline';
type Handler = (e: AppEvent) => void;

const handlers = new Set<Handler>();
const stateListeners = new Set<() => void>();
let state: StreamState = 'offline';
let source: EventSource | null = null;
let retry = 0;
let timer: ReturnType<typeof setTimeout> | undefined;
let generation = 0;
let linger: ReturnType<typeof setTimeout> | undefined;

/**
 * How long the stream stays open after its last subscriber leaves: moving
 * from one page to the next unsubscribes and subscribes again, which must
 * not open a new stream each time.
 */
const LINGER_MS = 10_000;

function setState(s: StreamState) {
  state = s;
  stateListeners.forEach((l) => l());
}

function close() {
  generation++;
  source?.close();
  source = null;
  clearTimeout(timer);
}

function reconnectLater() {
  close();
  setState('connecting');
  const delay = Math.min(15000, 500 * 2 ** retry++);
  timer = setTimeout(connect, delay);
}

async function connect() {
  const gen = ++generation;
  setState('connecting');
  let ticket: string;
  try {
    ticket = ok(await api.POST('/api/v1/events/ticket')).ticket;
  } catch {
    if (gen === generation && handlers.size > 0) reconnectLater();
    return;
  }
  if (gen !== generation || handlers.size === 0) return;
  const es = new EventSource(`/api/v1/events?ticket=${encodeURIComponent(ticket)}`);
  source = es;
  es.onopen = () => {
    retry = 0;
    setState('live');
  };
  const deliver = (m: MessageEvent<string>) => {
    let e: AppEvent;
    try {
      e = JSON.parse(m.data) as AppEvent;
    } catch {
      return;
    }
    handlers.forEach((h) => h(e));
  };
  for (const t of ['call', 'campaign', 'fleet'] as const) es.addEventListener(t, deliver);
  // The server ends a stream with one of these; the access token may have
  // expired: refresh, then reconnect with a new ticket.
  es.addEventListener('unauthorized', () => {
    close();
    void refresh().then((fresh) => {
      if (fresh && handlers.size > 0) void connect();
    });
  });
  for (const t of ['shutdown', 'overflow'] as const) es.addEventListener(t, reconnectLater);
  es.onerror = () => {
    if (source === es) reconnectLater();
  };
}

/** subscribe adds a handler, opening the stream for the first one. */
export function subscribe(h: Handler): () => void {
  handlers.add(h);
  clearTimeout(linger);
  linger = undefined;
  if (handlers.size === 1 && state === 'offline') void connect();
  return () => {
    handlers.delete(h);
    if (handlers.size === 0) {
      clearTimeout(linger);
      linger = setTimeout(() => {
        if (handlers.size > 0) return;
        close();
        setState('offline');
      }, LINGER_MS);
    }
  };
}

/** useEvents calls h for every event while the component is mounted. */
export function useEvents(h: Handler): void {
  useEffect(() => subscribe(h), [h]);
}

/** useStreamState is the shared stream's state. */
export function useStreamState(): StreamState {
  return useSyncExternalStore(
    (l) => {
      stateListeners.add(l);
      return () => stateListeners.delete(l);
    },
    () => state,
  );
}
