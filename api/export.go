package api

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"slices"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/voxplatform/vox/importer"
)

// exportContacts writes a campaign's contacts as CSV: phone, name, status,
// attempts, then one column per metadata key. A cell a spreadsheet would
// run as a formula (importer.FormulaLike) is written with a leading
// apostrophe, so that opening the file runs nothing.
func (s *Server) exportContacts(c *fiber.Ctx) error {
	cp, err := s.campaignOf(c)
	if err != nil {
		return err
	}
	ctx, cancel := s.bulkContext(c)
	defer cancel()
	all, err := s.store.CampaignContacts(ctx, cp.OrgID, cp.ID)
	if err != nil {
		return err
	}
	keySet := map[string]bool{}
	for _, ct := range all {
		for k := range ct.Metadata {
			keySet[k] = true
		}
	}
	var keys []string
	for k := range keySet {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	header := append([]string{"phone", "name", "status", "attempts"}, keys...)
	for i := range header {
		header[i] = importer.Neutralize(header[i])
	}
	_ = w.Write(header)
	for _, ct := range all {
		rec := []string{ct.Phone, ct.Name, ct.Status, strconv.Itoa(ct.Attempts)}
		for _, k := range keys {
			rec = append(rec, ct.Metadata[k])
		}
		for i := range rec {
			rec[i] = importer.Neutralize(rec[i])
		}
		_ = w.Write(rec)
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return fmt.Errorf("write contacts CSV: %w", err)
	}
	c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
	c.Set(fiber.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="contacts-%s.csv"`, cp.ID))
	return c.Send(buf.Bytes())
}
