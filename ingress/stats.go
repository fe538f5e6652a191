package ingress

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// ServerStat is HAProxy's live view of one fleet host.
type ServerStat struct {
	Name string `json:"name"`
	// Status is HAProxy's: UP, DOWN, DRAIN, MAINT, "UP 1/2" while changing.
	Status string `json:"status"`
	// Sessions is the number of connections (calls) open to the host in
	// the current HAProxy process.
	Sessions int `json:"sessions"`
	// Total is the number of connections the host has had.
	Total int `json:"total"`
	// Check is the last health check's result, e.g. L7OK or L7STS.
	Check string `json:"check"`
}

// Stats reads the fleet hosts' live state from HAProxy's admin socket.
func Stats(ctx context.Context, socket string) (map[string]ServerStat, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", socket)
	if err != nil {
		return nil, fmt.Errorf("haproxy stats socket: %w", err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	} else {
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	}
	if _, err := io.WriteString(conn, "show stat\n"); err != nil {
		return nil, fmt.Errorf("haproxy stats socket: %w", err)
	}
	b, err := io.ReadAll(conn)
	if err != nil {
		return nil, fmt.Errorf("haproxy stats socket: %w", err)
	}
	return parseStats(string(b))
}

func parseStats(text string) (map[string]ServerStat, error) {
	text = strings.TrimPrefix(strings.TrimSpace(text), "# ")
	r := csv.NewReader(strings.NewReader(text))
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil || len(rows) == 0 {
		return nil, fmt.Errorf("haproxy stats: unexpected answer %q", firstLine(text))
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	for _, h := range []string{"pxname", "svname", "scur", "stot", "status", "check_status"} {
		if _, ok := col[h]; !ok {
			return nil, fmt.Errorf("haproxy stats: no %s column in %q", h, firstLine(text))
		}
	}
	get := func(row []string, h string) string {
		if i := col[h]; i < len(row) {
			return row[i]
		}
		return ""
	}
	out := map[string]ServerStat{}
	for _, row := range rows[1:] {
		sv := get(row, "svname")
		if get(row, "pxname") != Backend || sv == "BACKEND" || sv == "FRONTEND" {
			continue
		}
		cur, _ := strconv.Atoi(get(row, "scur"))
		tot, _ := strconv.Atoi(get(row, "stot"))
		out[sv] = ServerStat{Name: sv, Status: get(row, "status"), Sessions: cur, Total: tot, Check: get(row, "check_status")}
	}
	return out, nil
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}
