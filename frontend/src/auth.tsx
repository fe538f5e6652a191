// Who is signed in, and what their role lets them do.
import { createContext, useCallback, useContext, useEffect, useState, type ReactNode } from 'react';
import { api, ApiError, ok } from './api/client';
import { requiredRole } from './api/roles.gen';
import { loadSession, onSession, saveSession } from './api/session';
import type { Me } from './api/types';
import { rankOf } from './live';

type Auth = {
  me: Me | null;
  loading: boolean;
  signIn: (email: string, password: string) => Promise<void>;
  signOut: () => Promise<void>;
  /** can reports whether the server would let the user call "METHOD /path". */
  can: (op: string) => boolean;
};

const Ctx = createContext<Auth | null>(null);

export function AuthProvider({ children }: { children: ReactNode }) {
  const [me, setMe] = useState<Me | null>(null);
  const [loading, setLoading] = useState(() => loadSession() !== null);

  const loadMe = useCallback(async () => {
    if (!loadSession()) {
      setMe(null);
      setLoading(false);
      return;
    }
    try {
      setMe(ok(await api.GET('/api/v1/auth/me')));
    } catch {
      setMe(null);
    } finally {
      setLoading(false);
    }
  }, []);

  useEffect(() => {
    void loadMe();
    // Signed out in another tab (or the refresh failed): sign out here.
    return onSession((pair) => {
      if (!pair) setMe(null);
    });
  }, [loadMe]);

  const signIn = useCallback(
    async (email: string, password: string) => {
      const r = await api.POST('/api/v1/auth/login', { body: { email, password } });
      if (r.response.status === 401) throw new ApiError('Wrong e-mail or password.', 401);
      saveSession(ok(r));
      await loadMe();
    },
    [loadMe],
  );

  const signOut = useCallback(async () => {
    const s = loadSession();
    if (s) await api.POST('/api/v1/auth/logout', { body: { refresh_token: s.refresh_token } }).catch(() => undefined);
    saveSession(null);
    setMe(null);
  }, []);

  const can = useCallback(
    (op: string) => {
      const need = requiredRole[op];
      return need !== undefined && rankOf(me?.role) >= rankOf(need);
    },
    [me],
  );

  return <Ctx.Provider value={{ me, loading, signIn, signOut, can }}>{children}</Ctx.Provider>;
}

export function useAuth(): Auth {
  const a = useContext(Ctx);
  if (!a) throw new Error('useAuth outside AuthProvider');
  return a;
}
