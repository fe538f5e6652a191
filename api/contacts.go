package api

import (
	"bytes"
	"errors"
	"net/http"
	"regexp"
	"strings"

	"github.com/gofiber/fiber/v2"
	"go.mongodb.org/mongo-driver/bson"

	"github.com/voxplatform/vox/importer"
	"github.com/voxplatform/vox/store"
)

// uploadResult reports a contact upload row by row.
type uploadResult struct {
	Total      int                 `json:"total"`
	Inserted   int                 `json:"inserted"`
	Duplicates int                 `json:"duplicates"`
	DoNotCall  int                 `json:"do_not_call"`
	Rejected   int                 `json:"rejected"`
	Errors     []importer.RowError `json:"errors"`
	// Flagged lists accepted rows with a cell a spreadsheet would run as a
	// formula; the export shows such cells as text.
	Flagged []importer.RowError `json:"flagged"`
}

var countryCodeRE = regexp.MustCompile(`^[1-9][0-9]{0,2}$`)

func (s *Server) contactRoutes() {
	const base = "/api/v1/campaigns/:id/contacts"
	s.add(routeInfo{Method: http.MethodPost, Path: base, Summary: "Upload contacts (CSV or JSON array)",
		Tag: "contacts", Access: accessUser, Role: store.RoleOperator, Query: []string{"country_code"},
		Body: []string{"text/csv", fiber.MIMEApplicationJSON}, Out: uploadResult{}}, s.uploadContacts)
	s.add(routeInfo{Method: http.MethodGet, Path: base, Summary: "List contacts of a campaign", Tag: "contacts",
		Access: accessUser, Role: store.RoleViewer, Query: []string{"status", "phone", "limit", "cursor"}, Out: store.Page[store.Contact]{}}, s.listContacts)
	s.add(routeInfo{Method: http.MethodGet, Path: base + "/export", Summary: "Export the contacts of a campaign as CSV (formula-like cells neutralised)",
		Tag: "contacts", Access: accessUser, Role: store.RoleViewer}, s.exportContacts)
	s.add(routeInfo{Method: http.MethodGet, Path: base + "/:contact_id", Summary: "Get a contact", Tag: "contacts",
		Access: accessUser, Role: store.RoleViewer, Out: store.Contact{}}, s.getContact)
	s.add(routeInfo{Method: http.MethodDelete, Path: base + "/:contact_id", Summary: "Delete a contact", Tag: "contacts",
		Access: accessUser, Role: store.RoleOperator}, s.deleteContact)
}

// campaignOf checks that the :id campaign belongs to the caller.
func (s *Server) campaignOf(c *fiber.Ctx) (store.Campaign, error) {
	id, err := pathID(c, "id")
	if err != nil {
		return store.Campaign{}, err
	}
	return store.Get[store.Campaign](c.UserContext(), s.store, store.CollCampaigns, principal(c).OrgID, id)
}

func (s *Server) uploadContacts(c *fiber.Ctx) error {
	cp, err := s.campaignOf(c)
	if err != nil {
		return err
	}
	cc := c.Query("country_code")
	if cc != "" && !countryCodeRE.MatchString(cc) {
		return badRequest("country_code: 1 to 3 digits, e.g. 44")
	}
	opt := importer.Options{CountryCode: cc, MaxRows: s.cfg.MaxContacts}
	ct := strings.ToLower(c.Get(fiber.HeaderContentType))
	var res *importer.Result
	switch {
	case strings.HasPrefix(ct, "text/csv"):
		res, err = importer.CSV(bytes.NewReader(c.Body()), opt)
	case strings.HasPrefix(ct, fiber.MIMEApplicationJSON):
		res, err = importer.JSON(c.Body(), opt)
	default:
		return httpErr(http.StatusUnsupportedMediaType, "Content-Type must be text/csv or application/json")
	}
	if errors.Is(err, importer.ErrFormat) {
		return badRequest("%v", err)
	} else if err != nil {
		return err
	}
	out := uploadResult{Total: res.Total, Duplicates: res.Duplicates, Errors: res.Errors, Flagged: res.Flagged}
	if out.Flagged == nil {
		out.Flagged = []importer.RowError{}
	}
	phones := make([]string, len(res.Rows))
	for i, r := range res.Rows {
		phones[i] = r.Phone
	}
	ctx, cancel := s.bulkContext(c)
	defer cancel()
	dnc, err := s.store.DNCSet(ctx, cp.OrgID, phones)
	if err != nil {
		return err
	}
	rows := res.Rows[:0:0]
	for _, r := range res.Rows {
		if dnc[r.Phone] {
			out.DoNotCall++
			if len(out.Errors) < importer.MaxErrors {
				out.Errors = append(out.Errors, importer.RowError{Row: r.Row, Error: "on the do-not-call list"})
			}
			continue
		}
		rows = append(rows, r)
	}
	ins, dup, err := s.store.InsertContacts(ctx, cp.OrgID, cp.ID, rows)
	if err != nil {
		return err
	}
	out.Inserted, out.Duplicates = ins, out.Duplicates+dup
	out.Rejected = out.Total - out.Inserted - out.Duplicates - out.DoNotCall
	if out.Errors == nil {
		out.Errors = []importer.RowError{}
	}
	return c.JSON(out)
}

func (s *Server) listContacts(c *fiber.Ctx) error {
	cp, err := s.campaignOf(c)
	if err != nil {
		return err
	}
	q, err := pageQuery(c)
	if err != nil {
		return err
	}
	f := bson.M{"org_id": cp.OrgID, "campaign_id": cp.ID}
	if st, err := queryText(c, "status"); err != nil {
		return err
	} else if st != "" {
		f["status"] = st
	}
	if ph := c.Query("phone"); ph != "" {
		v, err := normalizeQueryPhone("phone", ph)
		if err != nil {
			return err
		}
		f["phone"] = v
	}
	page, err := store.List[store.Contact](c.UserContext(), s.store, store.CollContacts, f, q)
	if err != nil {
		return err
	}
	return c.JSON(page)
}

func (s *Server) contactFilter(c *fiber.Ctx) (bson.M, error) {
	cp, err := s.campaignOf(c)
	if err != nil {
		return nil, err
	}
	id, err := pathID(c, "contact_id")
	if err != nil {
		return nil, err
	}
	return bson.M{"_id": id, "org_id": cp.OrgID, "campaign_id": cp.ID}, nil
}

func (s *Server) getContact(c *fiber.Ctx) error {
	f, err := s.contactFilter(c)
	if err != nil {
		return err
	}
	ct, err := store.FindOne[store.Contact](c.UserContext(), s.store, store.CollContacts, f)
	if err != nil {
		return err
	}
	return c.JSON(ct)
}

func (s *Server) deleteContact(c *fiber.Ctx) error {
	f, err := s.contactFilter(c)
	if err != nil {
		return err
	}
	res, err := s.store.C(store.CollContacts).DeleteOne(c.UserContext(), f)
	if err != nil {
		return err
	}
	if res.DeletedCount == 0 {
		return errNotFound
	}
	return c.SendStatus(http.StatusNoContent)
}
