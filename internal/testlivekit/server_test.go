package testlivekit

import (
	"context"
	"testing"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
)

func TestServerRoomsAndSIPAPI(t *testing.T) {
	s := Start(t, Options{})
	ctx := context.Background()
	rooms := lksdk.NewRoomServiceClient(s.HTTPURL, s.Key, s.Secret)
	if _, err := rooms.CreateRoom(ctx, &livekit.CreateRoomRequest{Name: "r1"}); err != nil {
		t.Fatalf("create room: %v\n%s", err, s.Log())
	}
	list, err := rooms.ListRooms(ctx, &livekit.ListRoomsRequest{})
	if err != nil || len(list.Rooms) != 1 {
		t.Fatalf("list rooms = %v, %v", list, err)
	}
	sip := lksdk.NewSIPClient(s.HTTPURL, s.Key, s.Secret)
	tr, err := sip.CreateSIPOutboundTrunk(ctx, &livekit.CreateSIPOutboundTrunkRequest{Trunk: &livekit.SIPOutboundTrunkInfo{
		Name: "out", Address: "sip.example.test", Numbers: []string{"+15550000001"},
	}})
	if err != nil {
		t.Fatalf("create outbound trunk (needs redis): %v", err)
	}
	if tr.SipTrunkId == "" {
		t.Fatal("trunk without id")
	}
}
