// Command deploycheck (built as .cache/vox-deploycheck) checks deploy/ files
// with the parsers of the tools that read them, for the tests of package
// deploy. It lives in a Go module of
// its own, so that compose-go's and LiveKit's dependencies stay out of the
// project's go.mod; scripts/deps-deploycheck.sh builds it into .cache.
//
//	vox-deploycheck compose FILE        load FILE as `docker compose config` does (compose-go: schema,
//	                                    interpolation, normalisation) and print the resolved model
//	vox-deploycheck sip inbound|outbound|dispatch FILE
//	                                    decode a LiveKit SIP API request (JSON) with unknown fields refused
//
// Exit codes: 0 valid, 1 invalid, 2 usage.
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	switch {
	case len(args) == 2 && args[0] == "compose":
		return compose(args[1])
	case len(args) == 3 && args[0] == "sip":
		return sip(args[1], args[2])
	}
	fmt.Fprintln(os.Stderr, "usage: vox-deploycheck compose FILE | sip inbound|outbound|dispatch FILE")
	return 2
}

func compose(path string) int {
	abs, err := filepath.Abs(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	opts, err := cli.NewProjectOptions([]string{abs}, cli.WithWorkingDirectory(filepath.Dir(abs)), cli.WithDotEnv, cli.WithOsEnv)
	if err != nil {
		fmt.Fprintf(os.Stderr, "compose %s: %v\n", path, err)
		return 1
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		fmt.Fprintf(os.Stderr, "compose %s: %v\n", path, err)
		return 1
	}
	out, err := p.MarshalYAML()
	if err != nil {
		fmt.Fprintf(os.Stderr, "compose %s: %v\n", path, err)
		return 1
	}
	os.Stdout.Write(out)
	return 0
}

func sip(kind, path string) int {
	var m proto.Message
	switch kind {
	case "inbound":
		m = &livekit.CreateSIPInboundTrunkRequest{}
	case "outbound":
		m = &livekit.CreateSIPOutboundTrunkRequest{}
	case "dispatch":
		m = &livekit.CreateSIPDispatchRuleRequest{}
	default:
		fmt.Fprintf(os.Stderr, "sip: unknown kind %q (inbound, outbound or dispatch)\n", kind)
		return 2
	}
	b, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: false}).Unmarshal(b, m); err != nil {
		fmt.Fprintf(os.Stderr, "sip %s %s: %v\n", kind, path, err)
		return 1
	}
	fmt.Println(protojson.Format(m))
	return 0
}
