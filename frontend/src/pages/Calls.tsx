// Calls: filters, live calls appearing and ending, and a call's detail with
// its transcript, extracted fields, per-turn latencies and recording.
import { useCallback, useRef, useState } from 'react';
import { api, ok } from '../api/client';
import { useEvents } from '../api/events';
import type { AppEvent, Call, CallDetail } from '../api/types';
import { formatDuration, liveStatuses, mergeCall, type CallFilter } from '../live';
import { Link, navigate, useLocation } from '../router';
import { Badge, Empty, Layout, Select, Status, useAsync, when } from '../ui';

const statuses = ['queued', 'ringing', 'in-progress', 'completed', 'failed', 'no-answer', 'busy', 'canceled'];

export function CallsPage() {
  const { query } = useLocation();
  const filter: CallFilter = {
    status: query.get('status') ?? undefined,
    direction: query.get('direction') ?? undefined,
    agent_id: query.get('agent_id') ?? undefined,
    campaign_id: query.get('campaign_id') ?? undefined,
  };
  const key = JSON.stringify(filter);
  const [cursor, setCursor] = useState<string>();
  // Call events that arrive while the list loads are kept and applied to it
  // once it is there (mergeCall ignores those older than the list).
  const early = useRef<Call[] | null>([]);
  const calls = useAsync(async () => {
    early.current = [];
    const q = Object.fromEntries(Object.entries(filter).filter(([, v]) => v)) as Record<string, string>;
    const page = ok(await api.GET('/api/v1/calls', { params: { query: { ...q, limit: '50' } } }));
    setCursor(page.next_cursor);
    const seen = early.current;
    early.current = null;
    return seen.reduce((l, c) => mergeCall(l, c, filter), page.items);
  }, [key]);
  const setData = calls.setData;
  useEvents(
    useCallback(
      (e: AppEvent) => {
        if (e.type !== 'call') return;
        if (early.current) early.current.push(e.data);
        else setData((l) => (l ? mergeCall(l, e.data, JSON.parse(key) as CallFilter) : l));
      },
      [setData, key],
    ),
  );
  const more = async () => {
    const q = Object.fromEntries(Object.entries(filter).filter(([, v]) => v)) as Record<string, string>;
    const page = ok(await api.GET('/api/v1/calls', { params: { query: { ...q, limit: '50', cursor } } }));
    setCursor(page.next_cursor);
    setData((l) => [...(l ?? []), ...page.items]);
  };
  const agents = useAsync(async () => ok(await api.GET('/api/v1/agents', { params: { query: { limit: '100' } } })).items, []);
  const campaigns = useAsync(async () => ok(await api.GET('/api/v1/campaigns', { params: { query: { limit: '100' } } })).items, []);
  const set = (k: string, v: string) => {
    const q = new URLSearchParams(query);
    if (v) q.set(k, v);
    else q.delete(k);
    navigate(`/calls${q.size ? '?' + q.toString() : ''}`, true);
  };
  return (
    <Layout title="Calls">
      <form className="filters" aria-label="Filter calls" onSubmit={(e) => e.preventDefault()}>
        <Select label="Status" value={filter.status ?? ''} onChange={(v) => set('status', v)} options={[['', 'Any'], ...statuses.map((s): [string, string] => [s, s])]} />
        <Select label="Direction" value={filter.direction ?? ''} onChange={(v) => set('direction', v)} options={[['', 'Any'], ['inbound', 'inbound'], ['outbound', 'outbound']]} />
        <Select label="Agent" value={filter.agent_id ?? ''} onChange={(v) => set('agent_id', v)} options={[['', 'Any'], ...(agents.data ?? []).map((a): [string, string] => [a.id, a.name])]} />
        <Select label="Campaign" value={filter.campaign_id ?? ''} onChange={(v) => set('campaign_id', v)} options={[['', 'Any'], ...(campaigns.data ?? []).map((c): [string, string] => [c.id, c.name])]} />
      </form>
      <Status a={calls} what="calls" empty={(l) => l.length === 0 && 'No calls match.'}>
        {(list) => (
          <>
            <CallTable calls={list} />
            {cursor && (
              <button type="button" onClick={() => void more()}>
                Load more
              </button>
            )}
          </>
        )}
      </Status>
    </Layout>
  );
}

export function CallTable({ calls }: { calls: Call[] }) {
  return (
    <div className="scroll" role="region" aria-label="Calls" tabIndex={0}>
      <table className="calls">
        <thead>
          <tr>
            <th scope="col">Call</th>
            <th scope="col">Status</th>
            <th scope="col">Direction</th>
            <th scope="col">From → To</th>
            <th scope="col">Started</th>
            <th scope="col">Duration</th>
          </tr>
        </thead>
        <tbody>
          {calls.map((c) => (
            <tr key={c.id} data-call={c.id} className={liveStatuses.has(c.status) ? 'is-live' : ''}>
              <td>
                <Link to={`/calls/${encodeURIComponent(c.id)}`}>{c.id}</Link>
              </td>
              <td>
                <Badge state={c.status} />
              </td>
              <td>{c.direction ?? '—'}</td>
              <td>
                {c.from ?? '—'} → {c.to ?? '—'}
              </td>
              <td>{when(c.started_at ?? c.created_at)}</td>
              <td>{c.duration_seconds !== undefined ? formatDuration(c.duration_seconds) : '—'}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** A transcript entry as the call record carries it (agent turns may have their latency). */
type TranscriptEntry = {
  seq?: number;
  speaker?: string;
  text?: string;
  at?: string;
  interrupted?: boolean;
  latency?: { response_ms?: number; stt_ms?: number; llm_ms?: number; tts_ms?: number };
};
/** Parts of a call's detail that older servers do not send. */
type Extra = { transcript?: TranscriptEntry[]; fields?: Record<string, unknown> };

export function CallDetailPage({ id }: { id: string }) {
  const call = useAsync(async () => ok(await api.GET('/api/v1/calls/{call_id}', { params: { path: { call_id: id } } })), [id]);
  const setData = call.setData;
  useEvents(
    useCallback(
      (e: AppEvent) => {
        if (e.type === 'call' && e.data.id === id) setData((c) => (c ? { ...c, ...e.data } : c));
      },
      [id, setData],
    ),
  );
  return (
    <Layout title={`Call ${id}`}>
      <p>
        <Link to="/calls">← All calls</Link>
      </p>
      <Status a={call} what="the call">
        {(c) => <Detail c={c} />}
      </Status>
    </Layout>
  );
}

function Detail({ c }: { c: CallDetail }) {
  const x = c as CallDetail & Extra;
  const turns = (x.transcript ?? []).filter((t) => t.latency);
  return (
    <>
      <section className="card" aria-labelledby="call-facts">
        <h2 id="call-facts">
          Overview <Badge state={c.status} />
        </h2>
        <dl className="facts">
          <dt>Agent</dt>
          <dd>
            <Link to={`/agents/${c.agent_id}`}>{c.agent_id}</Link>
          </dd>
          {c.campaign_id && (
            <>
              <dt>Campaign</dt>
              <dd>
                <Link to={`/campaigns/${c.campaign_id}`}>{c.campaign_id}</Link>
              </dd>
            </>
          )}
          <dt>Direction</dt>
          <dd>{c.direction ?? '—'}</dd>
          {c.carrier && (
            <>
              <dt>Carrier</dt>
              <dd>{c.carrier === 'widget' ? 'browser (widget)' : c.carrier}</dd>
            </>
          )}
          <dt>From → To</dt>
          <dd>
            {c.from ?? '—'} → {c.to ?? '—'}
          </dd>
          <dt>Started</dt>
          <dd>{when(c.started_at)}</dd>
          <dt>Answered</dt>
          <dd>{when(c.answered_at)}</dd>
          <dt>Ended</dt>
          <dd>{when(c.ended_at)}</dd>
          <dt>Duration</dt>
          <dd>{c.duration_seconds !== undefined ? formatDuration(c.duration_seconds) : '—'}</dd>
          {c.end_cause && (
            <>
              <dt>End cause</dt>
              <dd>{c.end_cause.replaceAll('_', ' ')}</dd>
            </>
          )}
          {c.error && (
            <>
              <dt>Error</dt>
              <dd>{c.error}</dd>
            </>
          )}
        </dl>
      </section>
      <section className="card" aria-labelledby="call-rec">
        <h2 id="call-rec">Recording</h2>
        {c.recording_url ? (
          <>
            <audio controls preload="none" src={c.recording_url} aria-label="Call recording" />
            <p>
              <a href={c.recording_url}>Download the recording</a> (the link expires soon)
            </p>
          </>
        ) : (
          <Empty>No recording for this call.</Empty>
        )}
      </section>
      <section className="card" aria-labelledby="call-transcript">
        <h2 id="call-transcript">Transcript</h2>
        {x.transcript?.length ? (
          <ol className="transcript">
            {x.transcript.map((t, i) => (
              <li key={t.seq ?? i} className={`turn turn-${t.speaker ?? 'unknown'}`}>
                <strong>{t.speaker === 'agent' ? 'Agent' : 'Caller'}:</strong> {t.text}
                {t.interrupted && <em> (interrupted)</em>}
              </li>
            ))}
          </ol>
        ) : (
          <Empty>No transcript yet.</Empty>
        )}
      </section>
      <section className="card" aria-labelledby="call-fields">
        <h2 id="call-fields">Extracted fields</h2>
        {x.fields && Object.keys(x.fields).length > 0 ? (
          <dl className="facts">
            {Object.entries(x.fields).map(([k, v]) => (
              <div key={k}>
                <dt>{k}</dt>
                <dd>{typeof v === 'string' ? v : JSON.stringify(v)}</dd>
              </div>
            ))}
          </dl>
        ) : (
          <Empty>No fields extracted.</Empty>
        )}
      </section>
      <section className="card" aria-labelledby="call-latency">
        <h2 id="call-latency">Per-turn latencies</h2>
        {turns.length ? (
          <div className="scroll" role="region" aria-label="Latencies" tabIndex={0}>
            <table>
              <thead>
                <tr>
                  <th scope="col">Agent turn</th>
                  <th scope="col">Response (ms)</th>
                  <th scope="col">Speech-to-text</th>
                  <th scope="col">Model</th>
                  <th scope="col">Text-to-speech</th>
                </tr>
              </thead>
              <tbody>
                {turns.map((t, i) => (
                  <tr key={t.seq ?? i}>
                    <td>{(t.text ?? '').slice(0, 40) || `#${i + 1}`}</td>
                    {([t.latency?.response_ms, t.latency?.stt_ms, t.latency?.llm_ms, t.latency?.tts_ms] as const).map((v, j) => (
                      <td key={j}>{v ? v : '—'}</td>
                    ))}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ) : (
          <Empty>No latencies recorded.</Empty>
        )}
      </section>
    </>
  );
}
