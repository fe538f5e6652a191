package api

import (
	"net/http"
	"regexp"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/voxplatform/vox/version"
)

var paramRE = regexp.MustCompile(`:([A-Za-z0-9_]+)`)

// OpenAPIPath turns a fiber path (/a/:id) into an OpenAPI one (/a/{id}).
func OpenAPIPath(p string) string { return paramRE.ReplaceAllString(p, "{$1}") }

// OpenAPI builds the OpenAPI 3 document of every registered route.
func (s *Server) OpenAPI() map[string]any {
	errResp := map[string]any{"description": "error", "content": map[string]any{
		"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Error"}}}}
	paths := map[string]map[string]any{}
	for _, r := range s.routes {
		p := OpenAPIPath(r.Path)
		if paths[p] == nil {
			paths[p] = map[string]any{}
		}
		var params []any
		for _, m := range paramRE.FindAllStringSubmatch(r.Path, -1) {
			params = append(params, map[string]any{"name": m[1], "in": "path", "required": true,
				"schema": map[string]any{"type": "string"}})
		}
		for _, q := range r.Query {
			params = append(params, map[string]any{"name": q, "in": "query", "required": false,
				"schema": map[string]any{"type": "string"}})
		}
		op := map[string]any{
			"summary":     r.Summary,
			"tags":        []string{r.Tag},
			"operationId": strings.ToLower(r.Method) + strings.NewReplacer("/", "_", ":", "", "-", "_").Replace(r.Path),
			"responses": map[string]any{
				okStatus(r): success(r),
				"default":   errResp,
			},
		}
		if len(params) > 0 {
			op["parameters"] = params
		}
		switch r.Access {
		case accessUser:
			op["security"] = []any{map[string]any{"bearer": []string{}}, map[string]any{"apiKey": []string{}}}
			op["x-required-role"] = r.Role
		case accessService:
			op["security"] = []any{map[string]any{"serviceToken": []string{}}}
		default:
			op["security"] = []any{}
		}
		if len(r.Body) > 0 {
			content := map[string]any{}
			for _, ct := range r.Body {
				sch := map[string]any{"type": "string"}
				if ct == fiber.MIMEApplicationJSON {
					sch = schemaOf(r.In)
				}
				content[ct] = map[string]any{"schema": sch}
			}
			op["requestBody"] = map[string]any{"required": true, "content": content}
		}
		paths[p][strings.ToLower(r.Method)] = op
	}
	schemas := map[string]any{"Error": map[string]any{"type": "object", "required": []string{"error"},
		"properties": map[string]any{"error": map[string]any{"type": "string"}}}}
	addEventSchemas(schemas)
	return map[string]any{
		"openapi": "3.0.3",
		"info":    map[string]any{"title": "voxbridge", "version": version.Version},
		"paths":   paths,
		"components": map[string]any{
			"schemas": schemas,
			"securitySchemes": map[string]any{
				"bearer":       map[string]any{"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
				"apiKey":       map[string]any{"type": "apiKey", "in": "header", "name": "X-API-Key"},
				"serviceToken": map[string]any{"type": "http", "scheme": "bearer", "bearerFormat": "JWT (audience runtime)"},
			},
		},
	}
}

func (s *Server) openapi(c *fiber.Ctx) error { return c.JSON(s.OpenAPI()) }

// okStatus is the status of a route's success.
func okStatus(r routeInfo) string {
	switch {
	case r.Method == http.MethodPost && strings.HasSuffix(r.Path, "/api/v1/"+r.Tag):
		return "201"
	case r.Method == http.MethodDelete, r.Path == "/api/v1/auth/logout":
		return "204"
	}
	return "200"
}

// success describes a route's success response.
func success(r routeInfo) map[string]any {
	out := map[string]any{"description": "success"}
	switch {
	case r.Path == "/api/v1/events":
		out["content"] = map[string]any{"text/event-stream": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Event"}}}
	case r.Path == "/metrics":
		out["content"] = map[string]any{"text/plain": map[string]any{"schema": map[string]any{"type": "string"}}}
	case r.Out != nil:
		out["content"] = map[string]any{"application/json": map[string]any{"schema": schemaOf(r.Out)}}
	}
	return out
}

// addEventSchemas declares the event stream's payloads: each SSE message's
// "event:" field is the type, its "data:" the JSON {type, data} of one of
// the typed events, or {} for the events that end a stream.
func addEventSchemas(schemas map[string]any) {
	var refs []any
	mapping := map[string]any{}
	for _, e := range eventPayloads {
		schemas[e.Schema] = map[string]any{"type": "object", "required": []string{"type", "data"},
			"properties": map[string]any{
				"type": map[string]any{"type": "string", "enum": []string{e.Type}},
				"data": schemaOf(e.Data),
			}}
		ref := "#/components/schemas/" + e.Schema
		refs = append(refs, map[string]any{"$ref": ref})
		mapping[e.Type] = ref
	}
	schemas["Event"] = map[string]any{"oneOf": refs, "discriminator": map[string]any{"propertyName": "type", "mapping": mapping}}
	var ends []string
	for _, e := range streamEnds {
		ends = append(ends, string(e))
	}
	schemas["StreamEnd"] = map[string]any{"type": "string", "enum": ends,
		"description": "the SSE event name of a stream's last message (its data is {}): the client reconnects with a new ticket"}
}
