package deploy

import (
	"encoding/binary"
	"net"
	"testing"
)

// serveSTUN answers STUN binding requests on a loopback UDP port with the
// sender's own address (XOR-MAPPED-ADDRESS), so that a server configured with
// use_external_ip finds its "external" address without leaving the machine.
func serveSTUN(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	const cookie = 0x2112A442
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if n < 20 || binary.BigEndian.Uint16(buf[0:2]) != 0x0001 || binary.BigEndian.Uint32(buf[4:8]) != cookie {
				continue
			}
			ua := from.(*net.UDPAddr)
			ip := ua.IP.To4()
			attr := make([]byte, 12)
			binary.BigEndian.PutUint16(attr[0:2], 0x0020) // XOR-MAPPED-ADDRESS
			binary.BigEndian.PutUint16(attr[2:4], 8)
			attr[5] = 0x01 // IPv4
			binary.BigEndian.PutUint16(attr[6:8], uint16(ua.Port)^uint16(cookie>>16))
			binary.BigEndian.PutUint32(attr[8:12], binary.BigEndian.Uint32(ip)^cookie)
			resp := make([]byte, 20, 20+len(attr))
			binary.BigEndian.PutUint16(resp[0:2], 0x0101) // binding success
			binary.BigEndian.PutUint16(resp[2:4], uint16(len(attr)))
			copy(resp[4:20], buf[4:20]) // cookie and transaction id
			resp = append(resp, attr...)
			_, _ = pc.WriteTo(resp, from)
		}
	}()
	return pc.LocalAddr().String()
}
