package plainbody

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/voxplatform/vox/fleetapi"
)

// Message is what a client sending a coded body is told.
const Message = "request bodies must not be compressed: send them without Content-Encoding"

// Coded reports whether a Content-Encoding header value names any coding
// other than identity (an empty value names none).
func Coded(value string) bool {
	for _, c := range strings.Split(value, ",") {
		if c = strings.TrimSpace(c); c != "" && !strings.EqualFold(c, "identity") {
			return true
		}
	}
	return false
}

// New returns fiber middleware that answers 415 to a request carrying any
// Content-Encoding header with a coding other than identity, before any
// handler can read (and inflate) its body. The error goes to the app's
// error handler as a *fiber.Error with Message.
func New() fiber.Handler {
	return func(c *fiber.Ctx) error {
		coded := false
		c.Request().Header.VisitAll(func(k, v []byte) {
			if strings.EqualFold(string(k), fiber.HeaderContentEncoding) && Coded(string(v)) {
				coded = true
			}
		})
		if coded {
			return fiber.NewError(fiber.StatusUnsupportedMediaType, Message)
		}
		return c.Next()
	}
}

// Wrap returns next behind the same check for net/http: a coded request
// gets 415 and {"error": Message} without reaching next.
func Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, v := range r.Header.Values("Content-Encoding") {
			if Coded(v) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnsupportedMediaType)
				_ = json.NewEncoder(w).Encode(fleetapi.ErrorBody{Error: Message})
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}
