// Package api is voxbridge, the Backend API: the admin API under /api/v1 for
// people (JWT or API key, roles, every query scoped to the caller's
// organisation), the runtime API under /runtime for services (service JWT of
// audience "runtime"), /health, /openapi.json and /metrics, on gofiber.
//
// A Server is built with New(cfg, logger) and served with Run(ctx); its
// fleet poller is a separate component with its own Run.
//
// api must never import supervisor, callslot or upstream: it talks to fleets
// only over HTTP.
package api
