// Users and API keys (admins): a new key is shown once, with its expiry.
import { useState, type FormEvent } from 'react';
import { api, ok } from '../api/client';
import type { NewAPIKey } from '../api/types';
import { useAuth } from '../auth';
import { Badge, Empty, Field, FormError, Layout, Select, Status, useAsync, useSubmit, when } from '../ui';

const roles: [string, string][] = [
  ['viewer', 'viewer'],
  ['operator', 'operator'],
  ['admin', 'admin'],
];

export function PeoplePage() {
  const { can } = useAuth();
  if (!can('GET /api/v1/users')) {
    return (
      <Layout title="Users & keys">
        <Empty>Only admins manage users and API keys.</Empty>
      </Layout>
    );
  }
  return (
    <Layout title="Users & keys">
      <Users />
      <Keys />
    </Layout>
  );
}

function Users() {
  const list = useAsync(async () => ok(await api.GET('/api/v1/users', { params: { query: { limit: '200' } } })).items, []);
  const [f, setF] = useState({ email: '', name: '', password: '', role: 'viewer' });
  const add = useSubmit(async () => {
    ok(await api.POST('/api/v1/users', { body: f }));
    setF({ email: '', name: '', password: '', role: 'viewer' });
    list.reload();
  });
  return (
    <section className="card" aria-labelledby="users">
      <h2 id="users">Users</h2>
      <form
        className="inline"
        aria-label="Add a user"
        onSubmit={(e: FormEvent) => {
          e.preventDefault();
          void add.submit();
        }}
      >
        <Field label="E-mail" type="email" required value={f.email} onChange={(e) => setF({ ...f, email: e.target.value })} />
        <Field label="Name" value={f.name} onChange={(e) => setF({ ...f, name: e.target.value })} />
        <Field label="Password" type="password" autoComplete="new-password" required value={f.password} onChange={(e) => setF({ ...f, password: e.target.value })} />
        <Select label="Role" value={f.role} onChange={(v) => setF({ ...f, role: v })} options={roles} />
        <button type="submit" className="primary" disabled={add.busy}>
          Add user
        </button>
        <FormError error={add.error} />
      </form>
      <Status a={list} what="users" empty={(l) => l.length === 0 && 'No users.'}>
        {(l) => (
          <ul className="list">
            {l.map((u) => (
              <li key={u.id}>
                {u.name || u.email} <span className="muted">{u.email}</span> <Badge state={u.role} />
              </li>
            ))}
          </ul>
        )}
      </Status>
    </section>
  );
}

function Keys() {
  const list = useAsync(async () => ok(await api.GET('/api/v1/api-keys', { params: { query: { limit: '200' } } })).items, []);
  const [f, setF] = useState({ name: '', role: 'viewer', days: '90' });
  const [created, setCreated] = useState<NewAPIKey>();
  const add = useSubmit(async () => {
    const k = ok(await api.POST('/api/v1/api-keys', { body: { name: f.name, role: f.role, expires_in_days: Number(f.days) } }));
    setCreated(k);
    setF({ name: '', role: 'viewer', days: '90' });
    list.reload();
  });
  const del = useSubmit(async (id: string) => {
    ok(await api.DELETE('/api/v1/api-keys/{id}', { params: { path: { id } } }));
    list.reload();
  });
  return (
    <section className="card" aria-labelledby="keys">
      <h2 id="keys">API keys</h2>
      <form
        className="inline"
        aria-label="Create an API key"
        onSubmit={(e: FormEvent) => {
          e.preventDefault();
          void add.submit();
        }}
      >
        <Field label="Key name" required value={f.name} onChange={(e) => setF({ ...f, name: e.target.value })} />
        <Select label="Key role" value={f.role} onChange={(v) => setF({ ...f, role: v })} options={roles} />
        <Field label="Expires in (days)" type="number" min={1} value={f.days} onChange={(e) => setF({ ...f, days: e.target.value })} />
        <button type="submit" className="primary" disabled={add.busy}>
          Create key
        </button>
        <FormError error={add.error} />
      </form>
      {created && (
        <div className="once" role="status">
          <p>
            <strong>Copy the key now: it is shown only once.</strong> It expires {when(created.expires_at)}.
          </p>
          <code className="key">{created.key}</code>
          <button type="button" onClick={() => setCreated(undefined)}>
            Done
          </button>
        </div>
      )}
      <FormError error={del.error} />
      <Status a={list} what="keys" empty={(l) => l.length === 0 && 'No API keys.'}>
        {(l) => (
          <ul className="list">
            {l.map((k) => (
              <li key={k.id}>
                {k.name} <Badge state={k.role} /> <span className="muted">expires {when(k.expires_at)} · last used {when(k.last_used_at)}</span>{' '}
                <button type="button" onClick={() => void del.submit(k.id)} aria-label={`Delete key ${k.name}`}>
                  Delete
                </button>
              </li>
            ))}
          </ul>
        )}
      </Status>
    </section>
  );
}
