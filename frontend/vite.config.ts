import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// `npm run dev` proxies the API to a voxbridge (VOX_API, default :8080).
const api = process.env.VOX_API ?? 'http://127.0.0.1:8080';

export default defineConfig({
  plugins: [react()],
  // The lazily loaded LiveKit client (test calls) is the one large chunk.
  build: { target: 'es2022', sourcemap: false, chunkSizeWarningLimit: 600 },
  server: { proxy: { '/api': api, '/openapi.json': api } },
  test: { environment: 'node', include: ['src/**/*.test.ts'] },
});
