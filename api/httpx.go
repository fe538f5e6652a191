package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/voxplatform/vox/api/auth"
	"github.com/voxplatform/vox/store"
)

// Access levels of a route.
const (
	accessPublic  = "public"  // no credentials
	accessUser    = "user"    // a person's JWT or an API key
	accessService = "service" // a service JWT of audience runtime
)

// routeInfo describes a registered route for /openapi.json.
type routeInfo struct {
	Method  string
	Path    string // fiber syntax, e.g. /api/v1/agents/:id
	Summary string
	Tag     string
	Access  string
	Role    string   // least role for accessUser routes
	Body    []string // accepted request content types
	Query   []string // query parameters
	In      any      // a value of the JSON request body's type, for its schema
	Out     any      // a value of the success response's type, for its schema
	Ticket  bool     // an accessUser route that also takes a stream ticket (?ticket=)
}

// add registers a route and records it for the OpenAPI document.
func (s *Server) add(ri routeInfo, h fiber.Handler) {
	handlers := []fiber.Handler{}
	switch ri.Access {
	case accessUser:
		authn := s.authenticate
		if ri.Ticket {
			authn = s.authenticateStream
		}
		handlers = append(handlers, authn, requireRole(ri.Role))
	case accessService:
		handlers = append(handlers, s.authenticateService)
	}
	handlers = append(handlers, h)
	s.app.Add(ri.Method, ri.Path, handlers...)
	s.routes = append(s.routes, ri)
}

// principal returns who is calling (set by authenticate).
func principal(c *fiber.Ctx) *auth.Principal {
	p, _ := c.Locals(localPrincipal).(*auth.Principal)
	return p
}

const localPrincipal = "principal"

// requireRole refuses callers below role.
func requireRole(role string) fiber.Handler {
	need := store.RoleRank(role)
	return func(c *fiber.Ctx) error {
		p := principal(c)
		if p == nil || store.RoleRank(p.Role) < need {
			return httpErr(http.StatusForbidden, "forbidden: needs role %s", role)
		}
		return c.Next()
	}
}

// decode reads a JSON body into v: JSON content type, at most the JSON
// limit, no field name starting with '$' anywhere (operator injection), no
// unknown fields, the right type for every field, nothing after the value.
func (s *Server) decode(c *fiber.Ctx, v any) error {
	if ct := strings.ToLower(c.Get(fiber.HeaderContentType)); !strings.HasPrefix(ct, fiber.MIMEApplicationJSON) {
		return httpErr(http.StatusUnsupportedMediaType, "Content-Type must be application/json")
	}
	body := c.Body()
	if len(body) > s.cfg.JSONLimit {
		return httpErr(http.StatusRequestEntityTooLarge, "body larger than %d bytes", s.cfg.JSONLimit)
	}
	if err := checkKeys(body); err != nil {
		return err
	}
	d := json.NewDecoder(bytes.NewReader(body))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := d.Token(); !errors.Is(err, io.EOF) {
		return badRequest("malformed JSON: data after the object")
	}
	return nil
}

// jsonError turns a decoding error into a 400 that names the field.
func jsonError(err error) error {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			field = "body"
		}
		return badRequest("%s: must be %s, got %s", field, jsonType(te.Type.Kind().String()), te.Value)
	case errors.As(err, &se), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return badRequest("malformed JSON")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return badRequest("unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	return badRequest("malformed JSON: %v", err)
}

func jsonType(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "slice", "array":
		return "an array"
	case "map", "struct", "ptr":
		return "an object"
	}
	return "a number"
}

// checkKeys refuses any object key that starts with '$' or holds a NUL, at
// any depth, so that no request can smuggle a MongoDB operator.
func checkKeys(body []byte) error {
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return jsonError(err)
	}
	var walk func(v any, depth int) error
	walk = func(v any, depth int) error {
		if depth > 20 {
			return badRequest("JSON nested too deeply")
		}
		switch t := v.(type) {
		case map[string]any:
			for k, e := range t {
				if strings.HasPrefix(k, "$") || strings.ContainsRune(k, 0) {
					return badRequest("field name %q is not allowed", k)
				}
				if err := walk(e, depth+1); err != nil {
					return err
				}
			}
		case []any:
			for _, e := range t {
				if err := walk(e, depth+1); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return walk(v, 0)
}

// pageQuery reads ?limit= and ?cursor=.
func pageQuery(c *fiber.Ctx) (store.PageQuery, error) {
	q := store.PageQuery{Limit: 50, Cursor: c.Query("cursor")}
	if l := c.Query("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > store.MaxPageSize {
			return q, badRequest("limit: must be 1 to %d", store.MaxPageSize)
		}
		q.Limit = n
	}
	if q.Cursor != "" && !store.ValidID(q.Cursor) {
		return q, badRequest("cursor: not a cursor of this list")
	}
	return q, nil
}

// pathID reads the :id path parameter; a malformed id is a 404 like any
// id that is not the caller's.
func pathID(c *fiber.Ctx, name string) (string, error) {
	id := c.Params(name)
	if !store.ValidID(id) {
		return "", errNotFound
	}
	return id, nil
}

// queryText reads an optional filter of plain text (at most 200 bytes).
func queryText(c *fiber.Ctx, name string) (string, error) {
	v := c.Query(name)
	if len(v) > 200 || strings.ContainsRune(v, 0) {
		return "", badRequest("%s: at most 200 bytes of text", name)
	}
	return v, nil
}

// queryBool reads an optional true/false filter.
func queryBool(c *fiber.Ctx, name string) (*bool, error) {
	v := c.Query(name)
	if v == "" {
		return nil, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return nil, badRequest("%s: must be true or false", name)
	}
	return &b, nil
}
