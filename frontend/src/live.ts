// Pure logic of the live views: merging events into lists, call ages,
// campaign figures. No I/O, unit-tested in live.test.ts.
import type { Call, Capacity, Worker } from './api/types';

/** Seconds of a busy worker's call at now, from its reading at checkedAt. */
export function callAge(w: Worker, checkedAt: string, now: number): number {
  if (!w.call_id) return 0;
  const since = Math.max(0, (now - Date.parse(checkedAt)) / 1000);
  return (w.call_s ?? 0) + since;
}

/** formatDuration writes seconds as m:ss or h:mm:ss. */
export function formatDuration(s: number): string {
  const t = Math.max(0, Math.floor(s));
  const h = Math.floor(t / 3600);
  const m = Math.floor((t % 3600) / 60);
  const sec = String(t % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}

export type CallFilter = { status?: string; direction?: string; agent_id?: string; campaign_id?: string };

/** matches reports whether a call passes the list's filters. */
export function matches(c: Call, f: CallFilter): boolean {
  return (
    (!f.status || c.status === f.status) &&
    (!f.direction || c.direction === f.direction) &&
    (!f.agent_id || c.agent_id === f.agent_id) &&
    (!f.campaign_id || c.campaign_id === f.campaign_id)
  );
}

/**
 * mergeCall applies a call event to a newest-first list: an updated call
 * replaces its row in place, a new one that passes the filters goes on
 * top, one that no longer passes them leaves. An event older than the row
 * (by updated_at) changes nothing: the list may have been loaded after it.
 */
export function mergeCall(list: Call[], c: Call, f: CallFilter): Call[] {
  const i = list.findIndex((x) => x.id === c.id);
  const old = list[i];
  if (old && Date.parse(c.updated_at) < Date.parse(old.updated_at)) return list;
  if (!matches(c, f)) return i < 0 ? list : list.filter((x) => x.id !== c.id);
  if (i < 0) return [c, ...list];
  const out = list.slice();
  out[i] = c;
  return out;
}

/** Live call statuses: the call is not over. */
export const liveStatuses = new Set(['queued', 'ringing', 'in-progress', 'answered']);

/** mergeFleet applies a fleet event to the readings by fleet id. */
export function mergeFleet(caps: Record<string, Capacity>, c: Capacity): Record<string, Capacity> {
  return { ...caps, [c.fleet_id]: c };
}

/** The legal abandon cap (3 % of answered calls). */
export const abandonCap = 0.03;

/** isAbandoned: answered by a person, but no worker was free to talk. */
export function isAbandoned(c: Call): boolean {
  return c.status === 'abandoned' || /abandon/i.test(c.error ?? '');
}

export type CampaignFigures = {
  dials: number;
  answered: number;
  abandoned: number;
  live: number;
  /** dials per answered call: how far ahead of answers the dialler dials. */
  pacingRatio: number;
  /** abandoned ÷ answered, 0 when nothing was answered. */
  abandonRate: number;
  /** abandon rate over time: one point per bucket (cumulative). */
  series: { t: number; rate: number }[];
};

/** campaignFigures computes a campaign's figures from its calls. */
export function campaignFigures(calls: Call[], buckets = 12): CampaignFigures {
  const sorted = calls.slice().sort((a, b) => Date.parse(a.created_at) - Date.parse(b.created_at));
  let answered = 0;
  let abandoned = 0;
  let live = 0;
  for (const c of sorted) {
    if (c.answered_at || isAbandoned(c)) answered++;
    if (isAbandoned(c)) abandoned++;
    if (liveStatuses.has(c.status)) live++;
  }
  const series: { t: number; rate: number }[] = [];
  if (sorted.length > 0) {
    const t0 = Date.parse(sorted[0]!.created_at);
    const t1 = Math.max(Date.parse(sorted[sorted.length - 1]!.created_at), t0 + 1);
    let a = 0;
    let ab = 0;
    let j = 0;
    for (let b = 1; b <= buckets; b++) {
      const edge = t0 + ((t1 - t0) * b) / buckets;
      while (j < sorted.length && Date.parse(sorted[j]!.created_at) <= edge) {
        const c = sorted[j]!;
        if (c.answered_at || isAbandoned(c)) a++;
        if (isAbandoned(c)) ab++;
        j++;
      }
      series.push({ t: edge, rate: a > 0 ? ab / a : 0 });
    }
  }
  return {
    dials: calls.length,
    answered,
    abandoned,
    live,
    pacingRatio: answered > 0 ? calls.length / answered : 0,
    abandonRate: answered > 0 ? abandoned / answered : 0,
    series,
  };
}

/** rankOf orders roles as the server does. */
export function rankOf(role: string | undefined): number {
  return ['viewer', 'operator', 'admin', 'owner'].indexOf(role ?? '') + 1;
}
