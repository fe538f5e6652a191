package api

import (
	"net/http"

	"github.com/gofiber/fiber/v2"

	"github.com/voxplatform/vox/api/auth"
	"github.com/voxplatform/vox/runtimeapi"
	"github.com/voxplatform/vox/store"
)

// routesAll registers every route. Each /api/v1 route names the least role
// it needs; /runtime routes need a service token.
func (s *Server) routesAll() {
	s.add(routeInfo{Method: http.MethodGet, Path: "/health", Summary: "MongoDB and Redis status (503 when either is down)",
		Tag: "system", Access: accessPublic, Out: healthBody{}}, s.health)
	s.add(routeInfo{Method: http.MethodGet, Path: "/metrics", Summary: "Prometheus metrics", Tag: "system",
		Access: accessPublic}, s.metrics.handler())
	s.add(routeInfo{Method: http.MethodGet, Path: "/openapi.json", Summary: "This document", Tag: "system",
		Access: accessPublic}, s.openapi)

	s.add(routeInfo{Method: http.MethodPost, Path: "/api/v1/auth/login", Summary: "Log in with e-mail and password",
		Tag: "auth", Access: accessPublic, Body: []string{fiber.MIMEApplicationJSON}, In: loginRequest{}, Out: auth.Pair{}}, s.login)
	s.add(routeInfo{Method: http.MethodPost, Path: "/api/v1/auth/refresh", Summary: "Exchange a refresh token for new tokens",
		Tag: "auth", Access: accessPublic, Body: []string{fiber.MIMEApplicationJSON}, In: refreshRequest{}, Out: auth.Pair{}}, s.refresh)
	s.add(routeInfo{Method: http.MethodPost, Path: "/api/v1/auth/logout", Summary: "Revoke the access token (and a refresh token)",
		Tag: "auth", Access: accessUser, Role: store.RoleViewer, Body: []string{fiber.MIMEApplicationJSON}, In: refreshRequest{}}, s.logout)
	s.add(routeInfo{Method: http.MethodGet, Path: "/api/v1/auth/me", Summary: "Who the caller is",
		Tag: "auth", Access: accessUser, Role: store.RoleViewer, Out: meBody{}}, s.me)

	s.resourceRoutes()
	s.contactRoutes()
	s.callRoutes()
	s.peopleRoutes()
	s.add(routeInfo{Method: http.MethodPost, Path: "/api/v1/events/ticket", Summary: "A single-use ticket that opens one event stream (for a browser's EventSource)",
		Tag: "events", Access: accessUser, Role: store.RoleViewer, Out: streamTicket{}}, s.newStreamTicket)
	s.add(routeInfo{Method: http.MethodGet, Path: "/api/v1/events", Summary: "Server-Sent Events of calls, campaigns and fleets (credentials, or ?ticket= from POST /api/v1/events/ticket)",
		Tag: "events", Access: accessUser, Role: store.RoleViewer, Query: []string{"ticket"}, Ticket: true}, s.events)

	s.add(routeInfo{Method: http.MethodGet, Path: "/runtime/agents/by-number/:e164", Summary: "Runtime config of the agent answering a number",
		Tag: "runtime", Access: accessService, Out: runtimeapi.Agent{}}, s.getRuntimeAgentByNumber)
	s.add(routeInfo{Method: http.MethodGet, Path: "/runtime/agents/:id", Summary: "Runtime config of an agent",
		Tag: "runtime", Access: accessService, Out: runtimeapi.Agent{}}, s.getRuntimeAgent)
	s.add(routeInfo{Method: http.MethodPut, Path: "/runtime/calls/:call_id", Summary: "Create or update a call record (idempotent, monotonic)",
		Tag: "runtime", Access: accessService, Body: []string{fiber.MIMEApplicationJSON}, In: runtimeapi.CallRecord{}, Out: callResponse{}}, s.putCall)
	s.add(routeInfo{Method: http.MethodPost, Path: "/runtime/phone-numbers/verify", Summary: "Verify a number for an organisation (its trunk carries it, or an operator claims it)",
		Tag: "runtime", Access: accessService, Body: []string{fiber.MIMEApplicationJSON}, In: verifyNumberInput{}, Out: store.PhoneNumber{}}, s.verifyNumber)
	s.add(routeInfo{Method: http.MethodGet, Path: "/runtime/fleets/select", Summary: "A fleet host with a free slot",
		Tag: "runtime", Access: accessService, Query: []string{"org_id"}, Out: runtimeapi.FleetChoice{}}, s.selectFleet)
	s.add(routeInfo{Method: http.MethodGet, Path: runtimeapi.PathFleetCapacity, Summary: "Free and busy workers of the fleets an organisation's calls may use",
		Tag: "runtime", Access: accessService, Query: []string{"org_id"}, Out: runtimeapi.FleetCapacity{}}, s.fleetCapacity)
}
