package main

import (
	"flag"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/voxplatform/vox/svcauth"
)

// maxTokenTTL is the longest lifetime token will sign: a minted token
// cannot be revoked, so it must not outlive the job it was made for.
const maxTokenTTL = 24 * time.Hour

// token prints a service token signed with VOX_SERVICE_SECRET from the
// environment (never from a flag: flags show in ps and shell history).
func token(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	aud := fs.String("audience", "", "runtime (voxbridge's /runtime) or fleet (a fleet's worker routes); required")
	fleetID := fs.String("fleet-id", "", "with --audience fleet: the fleet host the token may drive (its VOXFLEET_FLEET_ID); required there")
	ttl := fs.Duration("ttl", svcauth.DefaultTTL, "lifetime, at most 24h")
	sub := fs.String("subject", "operator", "who the token speaks for (its sub claim)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: voxbridge token --audience runtime|fleet [--fleet-id ID] [--ttl 5m] [--subject NAME]\n\n"+
			"Prints a service token signed with VOX_SERVICE_SECRET (read from the environment).\n\nflags:")
		fs.PrintDefaults()
	}
	if slices.ContainsFunc(args, isHelp) {
		fs.SetOutput(stdout)
		fs.Usage()
		return 0
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var problems []string
	if *aud != svcauth.AudienceRuntime && *aud != svcauth.AudienceFleet {
		problems = append(problems, fmt.Sprintf("--audience: must be %s or %s, got %q", svcauth.AudienceRuntime, svcauth.AudienceFleet, *aud))
	}
	audience := *aud
	switch {
	case *aud == svcauth.AudienceFleet:
		// Workers accept only tokens scoped to their own fleet.
		if err := svcauth.ValidateFleetID(*fleetID); err != nil {
			problems = append(problems, "--fleet-id: "+err.Error())
		}
		audience = svcauth.FleetAudience(*fleetID)
	case *fleetID != "":
		problems = append(problems, "--fleet-id: only with --audience fleet")
	}
	if *ttl <= 0 || *ttl > maxTokenTTL {
		problems = append(problems, fmt.Sprintf("--ttl: must be more than 0 and at most %s, got %s", maxTokenTTL, *ttl))
	}
	if *sub == "" || len(*sub) > 100 {
		problems = append(problems, "--subject: 1 to 100 characters")
	}
	secret := getenv("VOX_SERVICE_SECRET")
	if secret == "" {
		problems = append(problems, "VOX_SERVICE_SECRET: required but not set")
	} else if err := svcauth.ValidateSecret(secret); err != nil {
		problems = append(problems, "VOX_SERVICE_SECRET: "+err.Error())
	}
	if fs.NArg() > 0 {
		problems = append(problems, fmt.Sprintf("unexpected arguments %q", fs.Args()))
	}
	if len(problems) > 0 {
		fmt.Fprintln(stderr, "voxbridge token:")
		for _, p := range problems {
			fmt.Fprintln(stderr, "  "+p)
		}
		return 2
	}
	tok, err := svcauth.Sign([]byte(secret), audience, *sub, *ttl)
	if err != nil {
		fmt.Fprintf(stderr, "voxbridge token: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, tok)
	return 0
}
