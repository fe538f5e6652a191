// Agents: list, create, edit (prompt, script, voice, greeting, language,
// providers, recording, longest call), and a test call through the widget
// route.
import { useState, type FormEvent } from 'react';
import { providerChoices } from '../api/choices.gen';
import { api, ApiError, authFetch, ok } from '../api/client';
import { requiredRole } from '../api/roles.gen';
import type { Agent, AgentInput } from '../api/types';
import { useAuth } from '../auth';
import { Link, navigate } from '../router';
import { Field, FormError, Layout, Select, Status, TextArea, useAsync, useSubmit, when } from '../ui';

export function AgentsPage() {
  const { can } = useAuth();
  const agents = useAsync(async () => ok(await api.GET('/api/v1/agents', { params: { query: { limit: '100' } } })).items, []);
  const [name, setName] = useState('');
  const create = useSubmit(async () => {
    const a = ok(await api.POST('/api/v1/agents', { body: { name, greeting: 'Hello, this is Vox.', prompt: 'Be brief and friendly.' } }));
    navigate(`/agents/${a.id}`);
  });
  return (
    <Layout title="Agents">
      {can('POST /api/v1/agents') && (
        <form
          className="card inline"
          aria-label="New agent"
          onSubmit={(e) => {
            e.preventDefault();
            void create.submit();
          }}
        >
          <Field label="New agent's name" required value={name} onChange={(e) => setName(e.target.value)} />
          <button type="submit" className="primary" disabled={create.busy}>
            Create agent
          </button>
          <FormError error={create.error} />
        </form>
      )}
      <Status a={agents} what="agents" empty={(l) => l.length === 0 && 'No agents yet.'}>
        {(list) => (
          <ul className="list">
            {list.map((a) => (
              <li key={a.id}>
                <Link to={`/agents/${a.id}`}>{a.name}</Link> <span className="muted">· {a.language} · voice {a.voice || 'default'} · updated {when(a.updated_at)}</span>
              </li>
            ))}
          </ul>
        )}
      </Status>
    </Layout>
  );
}

export function AgentPage({ id }: { id: string }) {
  const agent = useAsync(async () => ok(await api.GET('/api/v1/agents/{id}', { params: { path: { id } } })), [id]);
  return (
    <Layout title={agent.data ? `Agent ${agent.data.name}` : 'Agent'}>
      <p>
        <Link to="/agents">← All agents</Link>
      </p>
      <Status a={agent} what="the agent">
        {(a) => <AgentForm key={a.id} agent={a} onSaved={(x) => agent.setData(() => x)} />}
      </Status>
    </Layout>
  );
}

function AgentForm({ agent, onSaved }: { agent: Agent; onSaved: (a: Agent) => void }) {
  const { can } = useAuth();
  const editable = can('PATCH /api/v1/agents/{id}');
  const [f, setF] = useState({
    name: agent.name,
    language: agent.language,
    voice: agent.voice,
    greeting: agent.greeting,
    prompt: agent.prompt,
    recording: agent.recording,
    max_call_seconds: agent.max_call_seconds,
    script: JSON.stringify(agent.script ?? [], null, 2),
  });
  const [providers, setProviders] = useState<Providers>({
    stt: agent.providers?.stt ?? '',
    tts: agent.providers?.tts ?? '',
    brain: agent.providers?.brain ?? '',
  });
  const [saved, setSaved] = useState(false);
  const save = useSubmit(async () => {
    let script: AgentInput['script'];
    try {
      script = JSON.parse(f.script) as AgentInput['script'];
    } catch {
      throw new Error('Script: not valid JSON (a list of steps).');
    }
    // The providers are replaced as a whole; the fleet's default is no
    // choice at all.
    const chosen = Object.fromEntries(Object.entries(providers).filter(([, v]) => v !== '')) as AgentInput['providers'];
    const body: AgentInput = { ...f, script, providers: chosen };
    onSaved(ok(await api.PATCH('/api/v1/agents/{id}', { params: { path: { id: agent.id } }, body })));
    setSaved(true);
  });
  const set = (k: keyof typeof f) => (v: string) => {
    setSaved(false);
    setF({ ...f, [k]: v });
  };
  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    void save.submit();
  };
  return (
    <>
      <form className="card" aria-label="Agent settings" onSubmit={onSubmit}>
        <fieldset disabled={!editable}>
          <legend>{editable ? 'Settings' : 'Settings (read only: your role cannot edit agents)'}</legend>
          <Field label="Name" value={f.name} onChange={(e) => set('name')(e.target.value)} required />
          <Field label="Language" value={f.language} onChange={(e) => set('language')(e.target.value)} hint="BCP 47, e.g. en-GB" />
          <Field label="Voice" value={f.voice} onChange={(e) => set('voice')(e.target.value)} />
          <Field label="Greeting" value={f.greeting} onChange={(e) => set('greeting')(e.target.value)} />
          <TextArea label="Prompt" value={f.prompt} onChange={set('prompt')} rows={5} />
          <TextArea label="Script (JSON steps: id, say, routes, next, field, dtmf, transfer, hangup)" value={f.script} onChange={set('script')} rows={8} />
          <fieldset className="providers">
            <legend>Providers</legend>
            {(Object.keys(providerLabels) as (keyof Providers)[]).map((k) => (
              <Select
                key={k}
                label={providerLabels[k]}
                value={providers[k]}
                onChange={(v) => {
                  setSaved(false);
                  setProviders({ ...providers, [k]: v });
                }}
                options={[['', "The fleet's default"], ...providerChoices[k].map((v): [string, string] => [v, choiceLabels[v] ?? v])]}
              />
            ))}
          </fieldset>
          <Field label="Longest call (seconds)" type="number" min={10} value={f.max_call_seconds} onChange={(e) => setF({ ...f, max_call_seconds: Number(e.target.value) })} />
          <div className="check">
            <input id="agent-recording" type="checkbox" checked={f.recording} onChange={(e) => setF({ ...f, recording: e.target.checked })} />
            <label htmlFor="agent-recording">Record calls</label>
          </div>
        </fieldset>
        {editable && (
          <button type="submit" className="primary" disabled={save.busy}>
            Save agent
          </button>
        )}
        {saved && <p role="status">Saved.</p>}
        <FormError error={save.error} />
      </form>
      <TestCall agentId={agent.id} />
    </>
  );
}

/** The agent's choice of each provider; '' is the fleet's default. */
type Providers = Record<keyof typeof providerChoices, string>;

/** The providers' labels, in the order the form shows them. */
const providerLabels: Record<keyof Providers, string> = {
  stt: 'Speech to text',
  tts: 'Text to speech',
  brain: 'Replies from',
};

/** Readable names of the providers' values (the value itself otherwise). */
const choiceLabels: Record<string, string> = {
  pocketsphinx: 'PocketSphinx (offline)',
  deepgram: 'Deepgram',
  openai: 'OpenAI-compatible',
  espeak: 'espeak-ng (offline)',
  elevenlabs: 'ElevenLabs',
  script: 'The script',
  model: 'Language model (script as fallback)',
};

/** What the widget route answers: the browser's way into the call's room. */
type WidgetSession = { call_id?: string; url?: string; room?: string; token?: string; error?: string };

/**
 * TestCall starts a browser call with the agent through the widget route
 * (shown when the server has the route and the user's role may use it):
 * a fleet worker joins the call's LiveKit room and the browser joins it as
 * the caller.
 */
function TestCall({ agentId }: { agentId: string }) {
  const op = 'POST /api/v1/agents/{id}/widget';
  const { can } = useAuth();
  const [live, setLive] = useState<{ id: string; hangUp: () => void }>();
  const call = useSubmit(async () => {
    // The widget route is typed once the server's document has it; until
    // then the button is not shown (see requiredRole below).
    const res = await authFetch(
      new Request(`/api/v1/agents/${encodeURIComponent(agentId)}/widget`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' }),
    );
    const body = (await res.json().catch(() => ({}))) as WidgetSession;
    if (!res.ok) throw new ApiError(res.status === 503 ? `Test calls need LiveKit: ${body.error ?? 'not configured'}` : (body.error ?? `HTTP ${res.status}`), res.status);
    if (!body.url || !body.token) throw new Error('The server gave no room to join.');
    const { joinCall } = await import('../livecall');
    const hangUp = await joinCall(body.url, body.token, () => setLive(undefined));
    setLive({ id: body.call_id ?? '', hangUp });
  });
  if (!requiredRole[op] || !can(op)) return null;
  return (
    <section className="card" aria-labelledby="test-call">
      <h2 id="test-call">Test call</h2>
      {live ? (
        <>
          <p role="status">
            In a call with the agent{live.id && <> (<Link to={`/calls/${encodeURIComponent(live.id)}`}>{live.id}</Link>)</>}: speak into your microphone.
          </p>
          <button type="button" onClick={live.hangUp}>
            Hang up
          </button>
        </>
      ) : (
        <button type="button" onClick={() => void call.submit()} disabled={call.busy}>
          {call.busy ? 'Calling…' : 'Start a test call'}
        </button>
      )}
      <FormError error={call.error} />
    </section>
  );
}
