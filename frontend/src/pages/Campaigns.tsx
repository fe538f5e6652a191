// Campaigns: create (agent, trunk, calling window and time zone), upload
// contacts with per-row errors, start and pause, and the live figures:
// pacing ratio, answers and abandon rate against the cap, with a chart.
import { useCallback, useState, type FormEvent } from 'react';
import { api, ok } from '../api/client';
import { useEvents } from '../api/events';
import type { AppEvent, Call, Campaign, UploadResult } from '../api/types';
import { useAuth } from '../auth';
import { abandonCap, campaignFigures, mergeCall } from '../live';
import { Link, navigate } from '../router';
import { Badge, Empty, Field, FormError, Layout, Select, Status, TextArea, useAsync, useSubmit } from '../ui';
import { CallTable } from './Calls';

const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

function zones(): string[] {
  const i = Intl as unknown as { supportedValuesOf?: (k: string) => string[] };
  return i.supportedValuesOf?.('timeZone') ?? ['UTC', 'Europe/London', 'America/New_York'];
}

export function CampaignsPage() {
  const { can } = useAuth();
  const campaigns = useAsync(async () => ok(await api.GET('/api/v1/campaigns', { params: { query: { limit: '100' } } })).items, []);
  const setData = campaigns.setData;
  useEvents(
    useCallback(
      (e: AppEvent) => {
        if (e.type === 'campaign') setData((l) => l?.map((c) => (c.id === e.data.id ? e.data : c)));
      },
      [setData],
    ),
  );
  return (
    <Layout title="Campaigns">
      {can('POST /api/v1/campaigns') && <NewCampaign />}
      <Status a={campaigns} what="campaigns" empty={(l) => l.length === 0 && 'No campaigns yet.'}>
        {(list) => (
          <ul className="list">
            {list.map((c) => (
              <li key={c.id}>
                <Link to={`/campaigns/${c.id}`}>{c.name}</Link> <Badge state={c.status} />{' '}
                <span className="muted">
                  {c.window.start}–{c.window.end} {c.window.timezone}
                </span>
              </li>
            ))}
          </ul>
        )}
      </Status>
    </Layout>
  );
}

function NewCampaign() {
  const agents = useAsync(async () => ok(await api.GET('/api/v1/agents', { params: { query: { limit: '100' } } })).items, []);
  const [f, setF] = useState({ name: '', agent_id: '', trunk_id: '', caller_id: '', start: '09:00', end: '17:00', timezone: Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC', days: [1, 2, 3, 4, 5] });
  const create = useSubmit(async () => {
    const c = ok(
      await api.POST('/api/v1/campaigns', {
        body: {
          name: f.name,
          agent_id: f.agent_id || agents.data?.[0]?.id,
          trunk_id: f.trunk_id,
          caller_id: f.caller_id || undefined,
          window: { start: f.start, end: f.end, timezone: f.timezone, days: f.days },
        },
      }),
    );
    navigate(`/campaigns/${c.id}`);
  });
  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    void create.submit();
  };
  return (
    <form className="card" aria-label="New campaign" onSubmit={onSubmit}>
      <h2>New campaign</h2>
      <div className="grid">
        <Field label="Name" required value={f.name} onChange={(e) => setF({ ...f, name: e.target.value })} />
        <Select label="Agent" value={f.agent_id || agents.data?.[0]?.id || ''} onChange={(v) => setF({ ...f, agent_id: v })} options={(agents.data ?? []).map((a): [string, string] => [a.id, a.name])} />
        <Field label="SIP trunk id" required value={f.trunk_id} onChange={(e) => setF({ ...f, trunk_id: e.target.value })} hint="LiveKit outbound trunk, e.g. ST_abc123" />
        <Field label="Caller id (E.164)" value={f.caller_id} onChange={(e) => setF({ ...f, caller_id: e.target.value })} />
        <Field label="Window start" type="time" required value={f.start} onChange={(e) => setF({ ...f, start: e.target.value })} />
        <Field label="Window end" type="time" required value={f.end} onChange={(e) => setF({ ...f, end: e.target.value })} />
        <Select label="Time zone" value={f.timezone} onChange={(v) => setF({ ...f, timezone: v })} options={zones().map((z): [string, string] => [z, z])} />
      </div>
      <fieldset className="days">
        <legend>Days</legend>
        {days.map((d, i) => (
          <span key={d} className="check">
            <input id={`day-${i}`} type="checkbox" checked={f.days.includes(i)} onChange={(e) => setF({ ...f, days: e.target.checked ? [...f.days, i].sort() : f.days.filter((x) => x !== i) })} />
            <label htmlFor={`day-${i}`}>{d}</label>
          </span>
        ))}
      </fieldset>
      <FormError error={create.error} />
      <button type="submit" className="primary" disabled={create.busy}>
        Create campaign
      </button>
    </form>
  );
}

export function CampaignPage({ id }: { id: string }) {
  const { can } = useAuth();
  const campaign = useAsync(async () => ok(await api.GET('/api/v1/campaigns/{id}', { params: { path: { id } } })), [id]);
  const calls = useAsync(async () => ok(await api.GET('/api/v1/calls', { params: { query: { campaign_id: id, limit: '200' } } })).items, [id]);
  const setCampaign = campaign.setData;
  const setCalls = calls.setData;
  useEvents(
    useCallback(
      (e: AppEvent) => {
        if (e.type === 'campaign' && e.data.id === id) setCampaign(() => e.data);
        if (e.type === 'call' && e.data.campaign_id === id) setCalls((l) => (l ? mergeCall(l, e.data, { campaign_id: id }) : l));
      },
      [id, setCampaign, setCalls],
    ),
  );
  const act = useSubmit(async (what: 'start' | 'pause') => {
    const r = what === 'start' ? await api.POST('/api/v1/campaigns/{id}/start', { params: { path: { id } } }) : await api.POST('/api/v1/campaigns/{id}/pause', { params: { path: { id } } });
    setCampaign(() => ok(r));
  });
  return (
    <Layout title={campaign.data ? `Campaign ${campaign.data.name}` : 'Campaign'}>
      <p>
        <Link to="/campaigns">← All campaigns</Link>
      </p>
      <Status a={campaign} what="the campaign">
        {(c) => (
          <>
            <section className="card" aria-labelledby="cp-state">
              <h2 id="cp-state">
                Status <Badge state={c.status} />
              </h2>
              <p>
                Calls {c.window.start}–{c.window.end} ({c.window.timezone}) on {c.window.days.map((d) => days[d]).join(', ')}; at most {c.max_attempts} attempts.
              </p>
              {can('POST /api/v1/campaigns/{id}/start') && (c.status === 'draft' || c.status === 'paused') && (
                <button type="button" className="primary" onClick={() => void act.submit('start')} disabled={act.busy}>
                  Start
                </button>
              )}
              {can('POST /api/v1/campaigns/{id}/pause') && c.status === 'running' && (
                <button type="button" onClick={() => void act.submit('pause')} disabled={act.busy}>
                  Pause
                </button>
              )}
              <FormError error={act.error} />
            </section>
            <Figures calls={calls.data} />
            {can('POST /api/v1/campaigns/{id}/contacts') && <Upload campaign={c} />}
            <section className="card" aria-labelledby="cp-calls">
              <h2 id="cp-calls">Calls</h2>
              <Status a={calls} what="calls" empty={(l) => l.length === 0 && 'No calls yet.'}>
                {(l) => <CallTable calls={l} />}
              </Status>
            </section>
          </>
        )}
      </Status>
    </Layout>
  );
}

function Figures({ calls }: { calls?: Call[] }) {
  if (!calls) return null;
  const f = campaignFigures(calls);
  const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
  return (
    <section className="card" aria-labelledby="cp-figures">
      <h2 id="cp-figures">Live figures</h2>
      <dl className="stats">
        <div>
          <dt>Dials</dt>
          <dd>{f.dials}</dd>
        </div>
        <div>
          <dt>Answers</dt>
          <dd>{f.answered}</dd>
        </div>
        <div>
          <dt>Pacing ratio</dt>
          <dd>{f.pacingRatio ? f.pacingRatio.toFixed(2) : '—'}</dd>
        </div>
        <div>
          <dt>Abandon rate</dt>
          <dd className={f.abandonRate > abandonCap ? 'over' : ''}>
            {pct(f.abandonRate)} <small>(cap {pct(abandonCap)})</small>
          </dd>
        </div>
      </dl>
      {f.series.length > 1 ? <Chart series={f.series} /> : <Empty>The chart appears once calls are made.</Empty>}
    </section>
  );
}

/** Chart draws the abandon rate over time against the cap. */
function Chart({ series }: { series: { t: number; rate: number }[] }) {
  const w = 320;
  const h = 120;
  const top = Math.max(abandonCap * 2, ...series.map((p) => p.rate));
  const x = (i: number) => (i / (series.length - 1)) * w;
  const y = (r: number) => h - (r / top) * h;
  const line = series.map((p, i) => `${i ? 'L' : 'M'}${x(i).toFixed(1)},${y(p.rate).toFixed(1)}`).join(' ');
  const last = series[series.length - 1]!;
  return (
    <figure className="chart">
      <svg viewBox={`0 0 ${w} ${h}`} role="img" aria-label={`Abandon rate over time, now ${(last.rate * 100).toFixed(1)} %, cap ${abandonCap * 100} %`}>
        <line x1={0} x2={w} y1={y(abandonCap)} y2={y(abandonCap)} className="cap" />
        <path d={line} className="rate" />
      </svg>
      <figcaption>Abandon rate (line) against the {abandonCap * 100} % cap (dashed).</figcaption>
    </figure>
  );
}

function Upload({ campaign }: { campaign: Campaign }) {
  const [csv, setCsv] = useState('phone,name\n');
  const [result, setResult] = useState<UploadResult>();
  const up = useSubmit(async () => {
    setResult(undefined);
    const r = await api.POST('/api/v1/campaigns/{id}/contacts', {
      params: { path: { id: campaign.id }, query: {} },
      body: csv as never,
      bodySerializer: (b: unknown) => b as string,
      headers: { 'Content-Type': 'text/csv' },
    });
    setResult(ok(r));
  });
  const onFile = async (f?: File) => f && setCsv(await f.text());
  return (
    <section className="card" aria-labelledby="cp-upload">
      <h2 id="cp-upload">Upload contacts</h2>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void up.submit();
        }}
      >
        <div className="field">
          <label htmlFor="cp-file">CSV file</label>
          <input id="cp-file" type="file" accept=".csv,text/csv" onChange={(e) => void onFile(e.target.files?.[0])} />
        </div>
        <TextArea label="Or paste CSV (phone,name,…)" value={csv} onChange={setCsv} rows={5} />
        <FormError error={up.error} />
        <button type="submit" className="primary" disabled={up.busy}>
          Upload
        </button>
      </form>
      {result && (
        <div role="status" className="upload-result">
          <p>
            {result.inserted} added, {result.duplicates} duplicates, {result.do_not_call} on the do-not-call list, {result.rejected} rejected of {result.total}.
          </p>
          {result.errors.length > 0 && (
            <table className="row-errors">
              <caption>Rows not added</caption>
              <thead>
                <tr>
                  <th scope="col">Row</th>
                  <th scope="col">Error</th>
                </tr>
              </thead>
              <tbody>
                {result.errors.map((e) => (
                  <tr key={e.row}>
                    <td>{e.row}</td>
                    <td>{e.error}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </div>
      )}
    </section>
  );
}
