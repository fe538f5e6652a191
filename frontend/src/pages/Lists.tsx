// The do-not-call list, phone numbers and fleet hosts.
import { useState, type FormEvent } from 'react';
import { api, ok } from '../api/client';
import { useAuth } from '../auth';
import { Badge, Field, FormError, Layout, Status, useAsync, useSubmit, when } from '../ui';

function submitter(f: () => void) {
  return (e: FormEvent) => {
    e.preventDefault();
    f();
  };
}

export function DNCPage() {
  const { can } = useAuth();
  const list = useAsync(async () => ok(await api.GET('/api/v1/do-not-call', { params: { query: { limit: '200' } } })).items, []);
  const [phone, setPhone] = useState('');
  const [reason, setReason] = useState('');
  const add = useSubmit(async () => {
    ok(await api.POST('/api/v1/do-not-call', { body: { phone, reason } }));
    setPhone('');
    setReason('');
    list.reload();
  });
  const del = useSubmit(async (id: string) => {
    ok(await api.DELETE('/api/v1/do-not-call/{id}', { params: { path: { id } } }));
    list.reload();
  });
  return (
    <Layout title="Do-not-call list">
      {can('POST /api/v1/do-not-call') && (
        <form className="card inline" aria-label="Add a number" onSubmit={submitter(() => void add.submit())}>
          <Field label="Phone (E.164)" required value={phone} onChange={(e) => setPhone(e.target.value)} />
          <Field label="Reason" value={reason} onChange={(e) => setReason(e.target.value)} />
          <button type="submit" className="primary" disabled={add.busy}>
            Add
          </button>
          <FormError error={add.error} />
        </form>
      )}
      <FormError error={del.error} />
      <Status a={list} what="the list" empty={(l) => l.length === 0 && 'Nobody is on the do-not-call list.'}>
        {(l) => (
          <ul className="list">
            {l.map((d) => (
              <li key={d.id}>
                {d.phone} <span className="muted">{d.reason}</span>{' '}
                {can('DELETE /api/v1/do-not-call/{id}') && (
                  <button type="button" onClick={() => void del.submit(d.id)} aria-label={`Remove ${d.phone}`}>
                    Remove
                  </button>
                )}
              </li>
            ))}
          </ul>
        )}
      </Status>
    </Layout>
  );
}

export function NumbersPage() {
  const { can } = useAuth();
  const list = useAsync(async () => ok(await api.GET('/api/v1/phone-numbers', { params: { query: { limit: '200' } } })).items, []);
  const agents = useAsync(async () => ok(await api.GET('/api/v1/agents', { params: { query: { limit: '100' } } })).items, []);
  const [f, setF] = useState({ e164: '', trunk_id: '', inbound_agent_id: '' });
  const add = useSubmit(async () => {
    ok(await api.POST('/api/v1/phone-numbers', { body: { ...f, inbound_agent_id: f.inbound_agent_id || undefined } }));
    setF({ e164: '', trunk_id: '', inbound_agent_id: '' });
    list.reload();
  });
  const name = (id?: string) => agents.data?.find((a) => a.id === id)?.name ?? id ?? '—';
  return (
    <Layout title="Phone numbers">
      {can('POST /api/v1/phone-numbers') && (
        <form className="card inline" aria-label="Add a number" onSubmit={submitter(() => void add.submit())}>
          <Field label="Number (E.164)" required value={f.e164} onChange={(e) => setF({ ...f, e164: e.target.value })} />
          <Field label="SIP trunk id" value={f.trunk_id} onChange={(e) => setF({ ...f, trunk_id: e.target.value })} />
          <div className="field">
            <label htmlFor="num-agent">Answering agent</label>
            <select id="num-agent" value={f.inbound_agent_id} onChange={(e) => setF({ ...f, inbound_agent_id: e.target.value })}>
              <option value="">None</option>
              {(agents.data ?? []).map((a) => (
                <option key={a.id} value={a.id}>
                  {a.name}
                </option>
              ))}
            </select>
          </div>
          <button type="submit" className="primary" disabled={add.busy}>
            Add number
          </button>
          <FormError error={add.error} />
        </form>
      )}
      <Status a={list} what="numbers" empty={(l) => l.length === 0 && 'No phone numbers yet.'}>
        {(l) => (
          <ul className="list">
            {l.map((n) => (
              <li key={n.id}>
                {n.e164} <Badge state={n.status} /> <span className="muted">answered by {name(n.inbound_agent_id)}</span>
              </li>
            ))}
          </ul>
        )}
      </Status>
    </Layout>
  );
}

export function FleetsPage() {
  const { can } = useAuth();
  const list = useAsync(async () => ok(await api.GET('/api/v1/fleets', { params: { query: { limit: '100' } } })).items, []);
  const [f, setF] = useState({ name: '', url: '' });
  const add = useSubmit(async () => {
    ok(await api.POST('/api/v1/fleets', { body: f }));
    setF({ name: '', url: '' });
    list.reload();
  });
  const toggle = useSubmit(async (id: string, enabled: boolean) => {
    ok(await api.PATCH('/api/v1/fleets/{id}', { params: { path: { id } }, body: { enabled } }));
    list.reload();
  });
  return (
    <Layout title="Fleets">
      {can('POST /api/v1/fleets') && (
        <form className="card inline" aria-label="Add a fleet host" onSubmit={submitter(() => void add.submit())}>
          <Field label="Name" required value={f.name} onChange={(e) => setF({ ...f, name: e.target.value })} />
          <Field label="URL" type="url" required value={f.url} onChange={(e) => setF({ ...f, url: e.target.value })} hint="where its /health/fleet answers" />
          <button type="submit" className="primary" disabled={add.busy}>
            Add fleet host
          </button>
          <FormError error={add.error} />
        </form>
      )}
      <FormError error={toggle.error} />
      <Status a={list} what="fleets" empty={(l) => l.length === 0 && 'No fleet hosts yet.'}>
        {(l) => (
          <ul className="list">
            {l.map((fl) => (
              <li key={fl.id}>
                <strong>{fl.name}</strong> <span className="muted">{fl.url}</span> <Badge state={fl.enabled ? 'enabled' : 'disabled'} />{' '}
                {fl.capacity && (
                  <span>
                    {fl.capacity.free} free of {fl.capacity.desired}, checked {when(fl.capacity.checked_at)}
                  </span>
                )}{' '}
                {can('PATCH /api/v1/fleets/{id}') && (
                  <button type="button" onClick={() => void toggle.submit(fl.id, !fl.enabled)}>
                    {fl.enabled ? 'Disable' : 'Enable'} {fl.name}
                  </button>
                )}
              </li>
            ))}
          </ul>
        )}
      </Status>
    </Layout>
  );
}
