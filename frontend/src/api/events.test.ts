import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

// A stand-in for the browser's EventSource: records what was opened and
// lets the test play the server's part.
class FakeEventSource {
  static all: FakeEventSource[] = [];
  onopen: (() => void) | null = null;
  onerror: (() => void) | null = null;
  closed = false;
  listeners = new Map<string, ((m: MessageEvent<string>) => void)[]>();
  constructor(readonly url: string) {
    FakeEventSource.all.push(this);
  }
  addEventListener(type: string, f: (m: MessageEvent<string>) => void) {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), f]);
  }
  close() {
    this.closed = true;
  }
  emit(type: string, data: unknown) {
    for (const f of this.listeners.get(type) ?? []) f({ data: JSON.stringify(data) } as MessageEvent<string>);
  }
}

let tickets = 0;
beforeEach(() => {
  vi.useFakeTimers();
  FakeEventSource.all = [];
  tickets = 0;
  vi.stubGlobal('EventSource', FakeEventSource);
  vi.stubGlobal('window', { addEventListener: () => undefined });
  vi.stubGlobal('location', { origin: 'http://console.test' });
  vi.stubGlobal(
    'fetch',
    vi.fn(async (req: Request) => {
      expect(new URL(req.url).pathname).toBe('/api/v1/events/ticket');
      tickets++;
      return new Response(JSON.stringify({ ticket: `T${tickets}`, expires_in: 30 }), { status: 200, headers: { 'Content-Type': 'application/json' } });
    }),
  );
});
afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
  vi.resetModules();
});

async function settle() {
  for (let i = 0; i < 10; i++) await Promise.resolve();
  await vi.advanceTimersByTimeAsync(0);
}

describe('the event stream', () => {
  it('opens one stream with a ticket for all subscribers and delivers typed events', async () => {
    const { subscribe } = await import('./events');
    const a = vi.fn();
    const b = vi.fn();
    const offA = subscribe(a);
    const offB = subscribe(b);
    await settle();
    expect(FakeEventSource.all.map((s) => s.url)).toEqual(['/api/v1/events?ticket=T1']);
    FakeEventSource.all[0]!.emit('call', { type: 'call', data: { id: 'CA1' } });
    expect(a).toHaveBeenCalledWith({ type: 'call', data: { id: 'CA1' } });
    expect(b).toHaveBeenCalledTimes(1);
    offA();
    offB();
  });

  it('reconnects with a new ticket after an error or an overflow', async () => {
    const { subscribe } = await import('./events');
    const off = subscribe(() => undefined);
    await settle();
    FakeEventSource.all[0]!.onerror!();
    expect(FakeEventSource.all[0]!.closed).toBe(true);
    await vi.advanceTimersByTimeAsync(600);
    await settle();
    expect(FakeEventSource.all.map((s) => s.url)).toEqual(['/api/v1/events?ticket=T1', '/api/v1/events?ticket=T2']);
    FakeEventSource.all[1]!.emit('overflow', {});
    await vi.advanceTimersByTimeAsync(2000);
    await settle();
    expect(FakeEventSource.all[2]!.url).toBe('/api/v1/events?ticket=T3');
    off();
  });

  it('keeps the stream across a page change and closes it once nobody listens', async () => {
    const { subscribe } = await import('./events');
    subscribe(() => undefined)();
    const off = subscribe(() => undefined); // the next page
    await settle();
    expect(FakeEventSource.all).toHaveLength(1);
    off();
    await vi.advanceTimersByTimeAsync(9000);
    expect(FakeEventSource.all[0]!.closed).toBe(false);
    await vi.advanceTimersByTimeAsync(2000);
    expect(FakeEventSource.all[0]!.closed).toBe(true);
    expect(tickets).toBe(1);
  });
});
