package runtimeapi

// Call statuses. A call moves forward only: queued → ringing → in-progress
// (answered) → one terminal status, which is its outcome. The terminal
// statuses share the highest rank; once a call has one, its status never
// changes again.
const (
	CallQueued     = "queued"      // accepted, not yet placed
	CallRinging    = "ringing"     // placed, not yet answered
	CallInProgress = "in-progress" // answered: the agent is talking
	CallCompleted  = "completed"   // ended after being answered
	CallFailed     = "failed"      // could not be placed or carried (see Error, SIPStatus)
	CallNoAnswer   = "no-answer"   // rang out
	CallBusy       = "busy"        // the callee was busy
	CallCanceled   = "canceled"    // withdrawn before it was answered
)

// Statuses lists every status in rank order.
var Statuses = []string{CallQueued, CallRinging, CallInProgress, CallCompleted, CallFailed, CallNoAnswer, CallBusy, CallCanceled}

// StatusRank orders call statuses; an unknown status ranks 0.
func StatusRank(status string) int {
	switch status {
	case CallQueued:
		return 1
	case CallRinging:
		return 2
	case CallInProgress:
		return 3
	case CallCompleted, CallFailed, CallNoAnswer, CallBusy, CallCanceled:
		return 4
	}
	return 0
}

// Terminal reports whether status ends a call.
func Terminal(status string) bool { return StatusRank(status) == 4 }

// Why a call ended (CallRecord.EndCause), as far as the worker knows.
const (
	EndCallerHangup = "caller_hangup" // the caller hung up or left the room
	EndAgentHangup  = "agent_hangup"  // the agent ended the call
	EndMaxDuration  = "max_duration"  // the agent's MaxCallSeconds passed
	EndStalled      = "stalled"       // no media for too long
	EndRoomDeleted  = "room_deleted"  // the LiveKit room went away
	EndNoCaller     = "no_caller"     // a widget caller never joined
	EndShutdown     = "shutdown"      // the worker stopped
	EndWorkerLost   = "worker_lost"   // the worker died during the call (its record was closed for it)
	EndError        = "error"         // see CallRecord.Error
)

// Directions of a call.
const (
	Inbound  = "inbound"
	Outbound = "outbound"
)

// Carriers: how a call reached the worker.
const (
	CarrierTwilio = "twilio" // a Twilio Media Streams WebSocket
	CarrierExotel = "exotel" // an Exotel AgentStream WebSocket
	CarrierPlivo  = "plivo"  // a Plivo Audio Streams WebSocket
	CarrierTelnyx = "telnyx" // a Telnyx Media Streaming WebSocket
	CarrierVonage = "vonage" // a Vonage Voice API WebSocket
	CarrierSIP    = "sip"    // a SIP participant in a LiveKit room
	CarrierWidget = "widget" // a browser in a LiveKit room
	CarrierTest   = "test"   // a test call (voxfleet call)
)

// Speakers of transcript entries.
const (
	SpeakerAgent  = "agent"
	SpeakerCaller = "caller"
)

// EndAbandoned is the end cause of an outbound call a person answered when
// no worker was free: the Dialler hung up (status completed). Abandons
// count against a campaign's abandon cap.
const EndAbandoned = "abandoned"
