// Shared pieces of every page: the layout and navigation, loading, empty
// and error states, form fields, and the data-loading hook.
import { useCallback, useEffect, useId, useRef, useState, type InputHTMLAttributes, type ReactNode } from 'react';
import { useEvents, useStreamState } from './api/events';
import { useAuth } from './auth';
import { Link, useLocation } from './router';

export type Async<T> = {
  data: T | undefined;
  error: string | undefined;
  loading: boolean;
  reload: () => void;
  setData: (f: (d: T | undefined) => T | undefined) => void;
};

/** useAsync runs load when deps change, keeping its result and error. */
export function useAsync<T>(load: () => Promise<T>, deps: unknown[]): Async<T> {
  const [data, setDataState] = useState<T>();
  const [error, setError] = useState<string>();
  const [loading, setLoading] = useState(true);
  const [n, setN] = useState(0);
  const key = JSON.stringify(deps);
  useEffect(() => {
    let live = true;
    setLoading(true);
    setError(undefined);
    load().then(
      (d) => live && (setDataState(d), setLoading(false)),
      (e: unknown) => live && (setError(e instanceof Error ? e.message : String(e)), setLoading(false)),
    );
    return () => {
      live = false;
    };
    // load is the caller's closure over deps: it runs again when they change.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key, n]);
  const reload = useCallback(() => setN((x) => x + 1), []);
  return { data, error, loading, reload, setData: setDataState };
}

export function Loading({ what }: { what: string }) {
  return (
    <p className="state" role="status" aria-live="polite">
      Loading {what}…
    </p>
  );
}

export function ErrorBox({ error, retry }: { error: string; retry?: () => void }) {
  return (
    <div className="state error" role="alert">
      <p>{error}</p>
      {retry && (
        <button type="button" onClick={retry}>
          Try again
        </button>
      )}
    </div>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <p className="state empty">{children}</p>;
}

/** Status shows a loading, error or empty state, else its children. */
export function Status<T>({ a, what, empty, children }: { a: Async<T>; what: string; empty?: (d: T) => ReactNode; children: (d: T) => ReactNode }) {
  if (a.error) return <ErrorBox error={a.error} retry={a.reload} />;
  if (a.data === undefined) return <Loading what={what} />;
  const e = empty?.(a.data);
  return <>{e ? <Empty>{e}</Empty> : children(a.data)}</>;
}

export function Field({ label, hint, ...input }: { label: string; hint?: string } & InputHTMLAttributes<HTMLInputElement>) {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input id={id} aria-describedby={hint ? id + '-hint' : undefined} {...input} />
      {hint && (
        <small id={id + '-hint'} className="hint">
          {hint}
        </small>
      )}
    </div>
  );
}

export function TextArea({ label, value, onChange, rows = 4 }: { label: string; value: string; onChange: (v: string) => void; rows?: number }) {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <textarea id={id} rows={rows} value={value} onChange={(e) => onChange(e.target.value)} />
    </div>
  );
}

export function Select({ label, value, onChange, options }: { label: string; value: string; onChange: (v: string) => void; options: [string, string][] }) {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <select id={id} value={value} onChange={(e) => onChange(e.target.value)}>
        {options.map(([v, l]) => (
          <option key={v} value={v}>
            {l}
          </option>
        ))}
      </select>
    </div>
  );
}

/** Badge shows a state with a text, never colour alone. */
export function Badge({ state }: { state: string }) {
  return <span className={`badge badge-${state.replace(/[^a-z-]/g, '')}`}>{state}</span>;
}

const keepOpen = () => undefined;

const nav: [string, string][] = [
  ['/fleet', 'Live fleet'],
  ['/calls', 'Calls'],
  ['/agents', 'Agents'],
  ['/campaigns', 'Campaigns'],
  ['/do-not-call', 'Do-not-call'],
  ['/numbers', 'Numbers'],
  ['/fleets', 'Fleets'],
  ['/people', 'Users & keys'],
];

export function Layout({ title, children }: { title: string; children: ReactNode }) {
  const { me, signOut } = useAuth();
  const { path } = useLocation();
  // Every signed-in page keeps the event stream open: the indicator says
  // whether the live views are current.
  useEvents(keepOpen);
  const stream = useStreamState();
  const [open, setOpen] = useState(false);
  const h1 = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    document.title = `${title} · Vox Console`;
    setOpen(false);
  }, [title, path]);
  return (
    <>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <Link to="/fleet" className="brand">
          Vox
        </Link>
        <button type="button" className="menu" aria-expanded={open} aria-controls="nav" onClick={() => setOpen(!open)}>
          Menu
        </button>
        <nav id="nav" aria-label="Main" className={open ? 'open' : ''}>
          <ul>
            {nav.map(([to, label]) => (
              <li key={to}>
                <Link to={to} aria-current={path.startsWith(to) ? 'page' : undefined}>
                  {label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <div className="who">
          <span className={`live live-${stream}`} title={`Event stream: ${stream}`}>
            {stream === 'live' ? 'Live' : stream === 'connecting' ? 'Connecting' : 'Offline'}
          </span>
          <span className="role">
            {me?.user?.email} ({me?.role})
          </span>
          <button type="button" onClick={() => void signOut()}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        <h1 ref={h1}>{title}</h1>
        {children}
      </main>
    </>
  );
}

/** Form wraps a submit handler with a busy flag and an error message. */
export function useSubmit<A extends unknown[]>(f: (...a: A) => Promise<void>) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const submit = async (...a: A) => {
    setBusy(true);
    setError(undefined);
    try {
      await f(...a);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, submit, setError };
}

export function FormError({ error }: { error?: string }) {
  return error ? (
    <p className="form-error" role="alert">
      {error}
    </p>
  ) : null;
}

export function when(ts?: string | null): string {
  return ts ? new Date(ts).toLocaleString() : '—';
}
