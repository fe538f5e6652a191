// The typed API client: openapi-fetch over the generated paths, with the
// access token added to every request and one refresh at a time when it
// has expired.
import createClient from 'openapi-fetch';
import type { paths } from './schema';
import type { TokenPair } from './types';
import { loadSession, saveSession } from './session';

/** ApiError is a failed request, with the server's {"error"} message. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

let refreshing: Promise<boolean> | null = null;

/** refresh exchanges the refresh token once for all concurrent callers. */
export function refresh(): Promise<boolean> {
  refreshing ??= (async () => {
    const cur = loadSession();
    if (!cur) return false;
    const res = await fetch('/api/v1/auth/refresh', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ refresh_token: cur.refresh_token }),
    });
    if (res.ok) {
      saveSession((await res.json()) as TokenPair);
      return true;
    }
    // Another tab may have refreshed in the meantime.
    const now = loadSession();
    if (now && now.refresh_token !== cur.refresh_token) return true;
    saveSession(null);
    return false;
  })().finally(() => {
    refreshing = null;
  });
  return refreshing;
}

/** authFetch sends a request with the access token, refreshing it once on a 401. */
export async function authFetch(input: Request): Promise<Response> {
  const retry = input.clone();
  const send = (req: Request) => {
    const s = loadSession();
    if (s) req.headers.set('Authorization', `Bearer ${s.access_token}`);
    return fetch(req);
  };
  const res = await send(input);
  if (res.status !== 401 || input.url.includes('/api/v1/auth/login') || !loadSession()) return res;
  return (await refresh()) ? send(retry) : res;
}

export const api = createClient<paths>({ baseUrl: globalThis.location?.origin ?? '', fetch: authFetch });

type Result<T> = { data?: T; error?: unknown; response: Response };

/** ok returns a result's data or throws an ApiError with the server's message. */
export function ok<T>(r: Result<T>): T {
  if (r.error !== undefined || !r.response.ok) {
    const msg =
      r.error && typeof r.error === 'object' && 'error' in r.error
        ? String((r.error as { error: unknown }).error)
        : `HTTP ${r.response.status}`;
    throw new ApiError(msg, r.response.status);
  }
  return r.data as T;
}
