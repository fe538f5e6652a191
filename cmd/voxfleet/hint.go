package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/voxplatform/vox/control"
	"github.com/voxplatform/vox/fleetapi"
	"github.com/voxplatform/vox/supervisor"
)

// printHint waits for the fleet to be ready and tells a newcomer where to look.
func printHint(ctx context.Context, w io.Writer, cfg supervisor.Config, from func() string) {
	c := control.NewClient(cfg.SocketDir)
	var f fleetapi.Fleet
	for ctx.Err() == nil {
		var err error
		f, err = c.Status(ctx)
		if err == nil && f.Ready >= f.Desired {
			break
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
	if ctx.Err() != nil {
		return
	}
	self, _ := os.Executable()
	fmt.Fprintf(w, `
voxfleet is running %[5]d worker(s) under %[1]s
  worker count from %[6]s

  fleet health    curl -s http://%[2]s/health/fleet
  metrics         curl -s http://%[2]s/metrics
  status          %[3]s status --socket-dir %[1]s
  resize          %[3]s scale 6 --socket-dir %[1]s
  replace all     %[3]s restart --rolling --socket-dir %[1]s
  test call       make call   (VOX_SERVICE_SECRET=… VOXFLEET_FLEET_ID=… %[3]s call --socket-dir %[1]s)
  nginx upstream  %[4]s
                  (point the site's "include /etc/voxfleet/upstream.conf;" here)
  sockets         %[7]s

Ctrl-C drains the workers and stops; a second Ctrl-C stops them at once.
`, cfg.SocketDir, cfg.Listen, self, cfg.UpstreamFile, f.Desired, from(), socketAccess(cfg.SocketGroup))
}

// socketAccess says who may connect to the worker sockets.
func socketAccess(group string) string {
	if group == "" {
		return "only this user may connect: nginx's workers need --socket-group (make run: SOCKET_GROUP=www-data)\n" +
			"                  or nginx's \"user\" set to this user"
	}
	return "group " + group + " (nginx's) may connect"
}
