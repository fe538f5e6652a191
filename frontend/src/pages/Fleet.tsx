// The live fleet view: every host's workers by state, their calls and call
// ages, free capacity, restarts, versions and rollouts, kept current by the
// event stream's fleet events.
import { useCallback, useEffect, useState } from 'react';
import { api, ok } from '../api/client';
import { useEvents } from '../api/events';
import type { AppEvent, Capacity, Fleet } from '../api/types';
import { callAge, formatDuration, mergeFleet } from '../live';
import { Link } from '../router';
import { Badge, Empty, Layout, Status, useAsync } from '../ui';

function useNow(ms = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}

export function FleetPage() {
  const fleets = useAsync(async () => ok(await api.GET('/api/v1/fleets', { params: { query: { limit: '100' } } })).items, []);
  const [caps, setCaps] = useState<Record<string, Capacity>>({});
  useEffect(() => {
    const init: Record<string, Capacity> = {};
    for (const f of fleets.data ?? []) if (f.capacity) init[f.id] = f.capacity;
    setCaps((c) => ({ ...init, ...c }));
  }, [fleets.data]);
  useEvents(
    useCallback((e: AppEvent) => {
      if (e.type === 'fleet') setCaps((c) => mergeFleet(c, e.data));
    }, []),
  );
  const now = useNow();
  return (
    <Layout title="Live fleet">
      <Status a={fleets} what="fleets" empty={(l) => l.length === 0 && <>No fleet hosts yet. <Link to="/fleets">Add one</Link>.</>}>
        {(list) => (
          <div className="hosts">
            {list.map((f) => (
              <Host key={f.id} fleet={f} cap={caps[f.id]} now={now} />
            ))}
          </div>
        )}
      </Status>
    </Layout>
  );
}

function Host({ fleet, cap, now }: { fleet: Fleet; cap?: Capacity; now: number }) {
  const label = `fleet-${fleet.id}`;
  return (
    <section className="card host" aria-labelledby={label}>
      <h2 id={label}>
        {fleet.name} <Badge state={!cap ? 'unknown' : cap.healthy ? 'healthy' : 'down'} />
      </h2>
      <p className="muted">{fleet.url}</p>
      {!cap ? (
        <Empty>Not polled yet.</Empty>
      ) : (
        <>
          <dl className="stats">
            {(
              [
                ['Free', cap.free],
                ['Busy', cap.busy],
                ['Ready', cap.ready],
                ['Desired', cap.desired],
                ['Draining', cap.draining],
                ['Failed', cap.failed],
              ] as const
            ).map(([k, v]) => (
              <div key={k}>
                <dt>{k}</dt>
                <dd data-stat={k.toLowerCase()}>{v}</dd>
              </div>
            ))}
            <div>
              <dt>Version</dt>
              <dd>{cap.version || '—'}</dd>
            </div>
          </dl>
          {cap.error && <p role="alert">{cap.error}</p>}
          {cap.rollout && !cap.rollout.done && (
            <p className="rollout" role="status">
              {cap.rollout.kind} to {cap.rollout.version || 'new binary'}: {cap.rollout.replaced} of {cap.rollout.total} workers replaced
            </p>
          )}
          {cap.workers.length === 0 ? (
            <Empty>No workers.</Empty>
          ) : (
            <div className="scroll" role="region" aria-label={`Workers of ${fleet.name}`} tabIndex={0}>
              <table>
                <thead>
                  <tr>
                    <th scope="col">Worker</th>
                    <th scope="col">State</th>
                    <th scope="col">Call</th>
                    <th scope="col">Call age</th>
                    <th scope="col">Restarts</th>
                    <th scope="col">Version</th>
                  </tr>
                </thead>
                <tbody>
                  {cap.workers.map((w) => (
                    <tr key={`${w.index}-${w.pid}`} data-worker={w.index} data-state={w.state}>
                      <td>#{w.index}</td>
                      <td>
                        <Badge state={w.state} />
                        {w.retired && ' retired'}
                      </td>
                      <td>{w.call_id ? <Link to={`/calls/${encodeURIComponent(w.call_id)}`}>{w.call_id}</Link> : '—'}</td>
                      <td>{w.call_id ? formatDuration(callAge(w, cap.checked_at, now)) : '—'}</td>
                      <td>{w.restarts}</td>
                      <td>{w.version}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </>
      )}
    </section>
  );
}
