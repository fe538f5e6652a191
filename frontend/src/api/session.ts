// The signed-in session: the token pair, kept in localStorage so that every
// tab of the Console shares it. Tabs see each other's refreshes through the
// storage event; two tabs refreshing at the same moment get the same new
// pair from the server (its refresh grace window).
import type { TokenPair } from './types';

const KEY = 'vox.session';

type Listener = (pair: TokenPair | null) => void;
const listeners = new Set<Listener>();

export function loadSession(): TokenPair | null {
  try {
    const raw = localStorage.getItem(KEY);
    return raw ? (JSON.parse(raw) as TokenPair) : null;
  } catch {
    return null;
  }
}

export function saveSession(pair: TokenPair | null): void {
  if (pair) localStorage.setItem(KEY, JSON.stringify(pair));
  else localStorage.removeItem(KEY);
  listeners.forEach((l) => l(pair));
}

/** Calls l when this tab or another changes the session. */
export function onSession(l: Listener): () => void {
  listeners.add(l);
  return () => listeners.delete(l);
}

if (typeof window !== 'undefined') {
  window.addEventListener('storage', (e) => {
    if (e.key === KEY) listeners.forEach((l) => l(loadSession()));
  });
}
