package api

import (
	"context"
	"net/http"
	"time"

	"github.com/gofiber/fiber/v2"
	"go.mongodb.org/mongo-driver/bson"

	"github.com/voxplatform/vox/api/auth"
	"github.com/voxplatform/vox/store"
)

// docPtr is a pointer to an organisation-owned document.
type docPtr[T any] interface {
	*T
	M() *store.Meta
	Validate() error
}

// filter maps a query parameter to an equality filter on a field; check
// validates and converts the parameter's value.
type filter struct {
	Param string
	Field string
	Check func(c *fiber.Ctx, v string) (any, error)
}

// crud describes the list/get/create/update/delete routes of one resource
// under /api/v1/<path>.
type crud[T store.Document, P docPtr[T], In any] struct {
	path      string // e.g. "/agents"
	coll      string
	tag       string
	readRole  string
	writeRole string
	noUpdate  bool
	filters   []filter
	defaults  func(d P)
	// apply copies the input onto the document and checks references (which
	// must belong to the same organisation).
	apply func(c *fiber.Ctx, p *auth.Principal, in *In, d P) error
	// changed runs after a create, update or delete (old is nil on create,
	// cur is nil on delete): cache invalidation, events.
	changed func(ctx context.Context, old, cur P)
	// beforeCreate, when set, may refuse a create (limits).
	beforeCreate func(c *fiber.Ctx, p *auth.Principal) error
	// beforeDelete, when set, may refuse a delete.
	beforeDelete func(c *fiber.Ctx, p *auth.Principal, d P) error
	// createdView, when set, is what create returns instead of the document;
	// createdOut is a value of its type, for the OpenAPI document.
	createdView func(c *fiber.Ctx, d P) any
	createdOut  any
	// present, when set, turns documents into what list and get return.
	present func(ctx context.Context, items []T) ([]any, error)
	// view and viewPage, with present, are values of what get and list
	// then return, for the OpenAPI document.
	view, viewPage any
}

func registerCRUD[T store.Document, P docPtr[T], In any](s *Server, r crud[T, P, In]) {
	base := "/api/v1" + r.path
	var query []string
	for _, f := range r.filters {
		query = append(query, f.Param)
	}
	query = append(query, "limit", "cursor")
	var listOut, getOut any = store.Page[T]{}, *new(T)
	if r.view != nil {
		listOut, getOut = r.viewPage, r.view
	}
	s.add(routeInfo{Method: http.MethodGet, Path: base, Summary: "List " + r.tag, Tag: r.tag,
		Access: accessUser, Role: r.readRole, Query: query, Out: listOut}, func(c *fiber.Ctx) error {
		q, err := pageQuery(c)
		if err != nil {
			return err
		}
		f := bson.M{"org_id": principal(c).OrgID}
		for _, fl := range r.filters {
			if v := c.Query(fl.Param); v != "" {
				cv, err := fl.Check(c, v)
				if err != nil {
					return err
				}
				f[fl.Field] = cv
			}
		}
		page, err := store.List[T](c.UserContext(), s.store, r.coll, f, q)
		if err != nil {
			return err
		}
		if r.present != nil {
			items, err := r.present(c.UserContext(), page.Items)
			if err != nil {
				return err
			}
			return c.JSON(store.Page[any]{Items: items, NextCursor: page.NextCursor})
		}
		return c.JSON(page)
	})
	s.add(routeInfo{Method: http.MethodGet, Path: base + "/:id", Summary: "Get one of " + r.tag, Tag: r.tag,
		Access: accessUser, Role: r.readRole, Out: getOut}, func(c *fiber.Ctx) error {
		id, err := pathID(c, "id")
		if err != nil {
			return err
		}
		d, err := store.Get[T](c.UserContext(), s.store, r.coll, principal(c).OrgID, id)
		if err != nil {
			return err
		}
		if r.present != nil {
			items, err := r.present(c.UserContext(), []T{d})
			if err != nil {
				return err
			}
			return c.JSON(items[0])
		}
		return c.JSON(d)
	})
	var created any = *new(T)
	if r.createdOut != nil {
		created = r.createdOut
	}
	s.add(routeInfo{Method: http.MethodPost, Path: base, Summary: "Create one of " + r.tag, Tag: r.tag,
		Access: accessUser, Role: r.writeRole, Body: []string{fiber.MIMEApplicationJSON}, In: *new(In), Out: created}, func(c *fiber.Ctx) error {
		var in In
		if err := s.decode(c, &in); err != nil {
			return err
		}
		p := principal(c)
		if r.beforeCreate != nil {
			if err := r.beforeCreate(c, p); err != nil {
				return err
			}
		}
		var d T
		dp := P(&d)
		if r.defaults != nil {
			r.defaults(dp)
		}
		now := time.Now().UTC().Truncate(time.Millisecond)
		meta := store.Meta{ID: store.NewID(), OrgID: p.OrgID, CreatedAt: now, UpdatedAt: now}
		*dp.M() = meta
		if err := r.apply(c, p, &in, dp); err != nil {
			return err
		}
		*dp.M() = meta
		if err := dp.Validate(); err != nil {
			return err
		}
		if err := store.Insert(c.UserContext(), s.store, r.coll, dp); err != nil {
			return err
		}
		if r.changed != nil {
			r.changed(c.UserContext(), nil, dp)
		}
		if r.createdView != nil {
			return c.Status(http.StatusCreated).JSON(r.createdView(c, dp))
		}
		return c.Status(http.StatusCreated).JSON(dp)
	})
	if !r.noUpdate {
		s.add(routeInfo{Method: http.MethodPatch, Path: base + "/:id", Summary: "Update one of " + r.tag, Tag: r.tag,
			Access: accessUser, Role: r.writeRole, Body: []string{fiber.MIMEApplicationJSON}, In: *new(In), Out: *new(T)}, func(c *fiber.Ctx) error {
			id, err := pathID(c, "id")
			if err != nil {
				return err
			}
			p := principal(c)
			ctx := c.UserContext()
			old, err := store.Get[T](ctx, s.store, r.coll, p.OrgID, id)
			if err != nil {
				return err
			}
			var in In
			if err := s.decode(c, &in); err != nil {
				return err
			}
			d := old
			dp := P(&d)
			if err := r.apply(c, p, &in, dp); err != nil {
				return err
			}
			*dp.M() = *P(&old).M()
			dp.M().UpdatedAt = time.Now().UTC().Truncate(time.Millisecond)
			if err := dp.Validate(); err != nil {
				return err
			}
			if err := store.Replace(ctx, s.store, r.coll, p.OrgID, id, P(&old).M().UpdatedAt, dp); err != nil {
				return err
			}
			if r.changed != nil {
				r.changed(ctx, P(&old), dp)
			}
			return c.JSON(dp)
		})
	}
	s.add(routeInfo{Method: http.MethodDelete, Path: base + "/:id", Summary: "Delete one of " + r.tag, Tag: r.tag,
		Access: accessUser, Role: r.writeRole}, func(c *fiber.Ctx) error {
		id, err := pathID(c, "id")
		if err != nil {
			return err
		}
		p := principal(c)
		ctx := c.UserContext()
		old, err := store.Get[T](ctx, s.store, r.coll, p.OrgID, id)
		if err != nil {
			return err
		}
		if r.beforeDelete != nil {
			if err := r.beforeDelete(c, p, P(&old)); err != nil {
				return err
			}
		}
		if err := store.Delete(ctx, s.store, r.coll, p.OrgID, id); err != nil {
			return err
		}
		if r.changed != nil {
			r.changed(ctx, P(&old), nil)
		}
		return c.SendStatus(http.StatusNoContent)
	})
}

// set copies *src into *dst when src is not nil.
func set[V any](dst *V, src *V) {
	if src != nil {
		*dst = *src
	}
}

// idFilter checks an id query parameter.
func idFilter(param, field string) filter {
	return filter{Param: param, Field: field, Check: func(_ *fiber.Ctx, v string) (any, error) {
		if !store.ValidID(v) {
			return nil, badRequest("%s: not an id", param)
		}
		return v, nil
	}}
}

// textFilter is an equality filter on plain text.
func textFilter(param, field string) filter {
	return filter{Param: param, Field: field, Check: func(c *fiber.Ctx, _ string) (any, error) {
		return queryText(c, param)
	}}
}

// oneOfFilter accepts only the listed values.
func oneOfFilter(param, field string, values ...string) filter {
	return filter{Param: param, Field: field, Check: func(_ *fiber.Ctx, v string) (any, error) {
		for _, ok := range values {
			if v == ok {
				return v, nil
			}
		}
		return nil, badRequest("%s: must be one of %v", param, values)
	}}
}

// boolFilter is a true/false filter.
func boolFilter(param, field string) filter {
	return filter{Param: param, Field: field, Check: func(c *fiber.Ctx, _ string) (any, error) {
		b, err := queryBool(c, param)
		if err != nil {
			return nil, err
		}
		return *b, nil
	}}
}

// sameOrg checks that the document id of coll exists in orgID; field names
// the request field for the message.
func (s *Server) sameOrg(ctx context.Context, coll, orgID, id, field string) error {
	if id == "" {
		return nil
	}
	if !store.ValidID(id) {
		return badRequest("%s: not an id", field)
	}
	n, err := store.Count(ctx, s.store, coll, bson.M{"_id": id, "org_id": orgID})
	if err != nil {
		return err
	}
	if n == 0 {
		return badRequest("%s: no such %s", field, collNoun(coll))
	}
	return nil
}

func collNoun(coll string) string {
	switch coll {
	case store.CollAgents:
		return "agent"
	case store.CollCampaigns:
		return "campaign"
	}
	return "item"
}
