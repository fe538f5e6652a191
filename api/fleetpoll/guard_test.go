package fleetpoll

import (
	"errors"
	"net/netip"
	"testing"
)

func TestAddressPolicy(t *testing.T) {
	p := AddressPolicy{Allowed: []netip.Prefix{netip.MustParsePrefix("10.20.0.0/16")}}
	for _, tc := range []struct {
		ip string
		ok bool
	}{
		{"93.184.215.14", true},
		{"2606:2800:21f:cb07:6820:80da:af6b:8b2c", true},
		{"10.20.3.4", true}, // allowed net
		{"::ffff:10.20.3.4", true},
		{"127.0.0.1", false},
		{"127.9.9.9", false},
		{"::1", false},
		{"::ffff:127.0.0.1", false},
		{"10.0.0.1", false},
		{"172.16.5.5", false},
		{"192.168.0.1", false},
		{"169.254.169.254", false}, // cloud metadata
		{"fd00:ec2::254", false},   // cloud metadata over IPv6
		{"100.100.100.200", false}, // shared address space (a cloud's metadata)
		{"fe80::1", false},
		{"0.0.0.0", false},
		{"::", false},
		{"224.0.0.1", false},
		{"255.255.255.255", false},
		{"64:ff9b::7f00:1", false}, // NAT64 of 127.0.0.1
		{"2002:7f00:1::", false},   // 6to4 of 127.0.0.1
		{"198.18.0.1", false},
	} {
		err := p.Check(netip.MustParseAddr(tc.ip))
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrAddressRefused)) {
			t.Errorf("Check(%s) = %v, want ok=%v", tc.ip, err, tc.ok)
		}
	}
	for u, ok := range map[string]bool{
		"https://fleet.example.com": true, "http://localhost:9180": true, // names: checked at connect time
		"http://127.0.0.1:9180": false, "http://[::1]:80": false, "http://169.254.169.254/": false,
		"http://10.20.0.9": true,
	} {
		if err := p.CheckURL(u); (err == nil) != ok {
			t.Errorf("CheckURL(%s) = %v, want ok=%v", u, err, ok)
		}
	}
}

func TestPublicReason(t *testing.T) {
	if got := publicReason(errors.New("dial tcp 10.0.0.1:6379: EOF")); got != msgFailed {
		t.Fatalf("publicReason = %q", got)
	}
	if got := publicReason(errors.Join(errors.New("dial"), ErrAddressRefused)); got != msgRefused {
		t.Fatalf("publicReason = %q", got)
	}
}
