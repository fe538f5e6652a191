import { describe, expect, it } from 'vitest';
import type { Call, Worker } from './api/types';
import { callAge, campaignFigures, formatDuration, mergeCall, rankOf } from './live';

const call = (id: string, over: Partial<Call> = {}): Call => ({
  id,
  org_id: 'o',
  agent_id: 'a',
  status: 'ringing',
  created_at: '2026-01-01T00:00:00Z',
  updated_at: '2026-01-01T00:00:00Z',
  ...over,
});

describe('formatDuration', () => {
  it.each([
    [0, '0:00'],
    [65.9, '1:05'],
    [3723, '1:02:03'],
    [-4, '0:00'],
  ])('%s s is %s', (s, want) => expect(formatDuration(s)).toBe(want));
});

describe('callAge', () => {
  const w = { index: 1, pid: 1, state: 'busy', call_id: 'CA1', call_s: 10, restarts: 0, uptime_s: 5, version: 'v', calls: 0 } as Worker;
  it('adds the time since the reading', () => {
    expect(callAge(w, '2026-01-01T00:00:00Z', Date.parse('2026-01-01T00:00:05Z'))).toBe(15);
  });
  it('is 0 without a call', () => {
    expect(callAge({ ...w, call_id: '' }, '2026-01-01T00:00:00Z', Date.now())).toBe(0);
  });
});

describe('mergeCall', () => {
  it('puts a new call on top and updates in place', () => {
    let l = [call('A')];
    l = mergeCall(l, call('B'), {});
    expect(l.map((c) => c.id)).toEqual(['B', 'A']);
    l = mergeCall(l, call('A', { status: 'completed' }), {});
    expect(l.map((c) => [c.id, c.status])).toEqual([
      ['B', 'ringing'],
      ['A', 'completed'],
    ]);
  });
  it('ignores an event older than the row', () => {
    const l = [call('A', { status: 'completed', updated_at: '2026-01-01T00:00:02.5Z' })];
    expect(mergeCall(l, call('A', { status: 'in-progress', updated_at: '2026-01-01T00:00:02Z' }), {})).toBe(l);
  });
  it('drops a call that leaves the filter and ignores one outside it', () => {
    let l = [call('A')];
    l = mergeCall(l, call('A', { status: 'completed' }), { status: 'ringing' });
    expect(l).toEqual([]);
    expect(mergeCall(l, call('C', { status: 'failed' }), { status: 'ringing' })).toEqual([]);
  });
});

describe('campaignFigures', () => {
  it('counts answers, abandons and the pacing ratio', () => {
    const calls = [
      call('1', { answered_at: '2026-01-01T00:00:01Z', status: 'completed' }),
      call('2', { status: 'no-answer', created_at: '2026-01-01T00:01:00Z' }),
      call('3', { status: 'abandoned', created_at: '2026-01-01T00:02:00Z' }),
      call('4', { answered_at: '2026-01-01T00:03:01Z', status: 'in-progress', created_at: '2026-01-01T00:03:00Z' }),
    ];
    const f = campaignFigures(calls, 4);
    expect(f).toMatchObject({ dials: 4, answered: 3, abandoned: 1, live: 1 });
    expect(f.pacingRatio).toBeCloseTo(4 / 3);
    expect(f.abandonRate).toBeCloseTo(1 / 3);
    expect(f.series).toHaveLength(4);
    expect(f.series[3]!.rate).toBeCloseTo(1 / 3);
  });
  it('is all zero without calls', () => {
    expect(campaignFigures([])).toMatchObject({ dials: 0, pacingRatio: 0, abandonRate: 0, series: [] });
  });
});

describe('rankOf', () => {
  it('orders roles', () => {
    expect(rankOf('viewer')).toBeLessThan(rankOf('operator'));
    expect(rankOf('owner')).toBe(4);
    expect(rankOf('nobody')).toBe(0);
  });
});
