package apitype

import "github.com/appstore-dev/appstore/catalog"

// Event is one entry of the event log as the stream sends it.
type Event = catalog.Event

// Message types the stream (GET /api/v1/events) sends besides stored
// events. They have id 0 and are not part of the event log.
const (
	// EventHeartbeat is sent every heartbeat interval; a client that
	// hears nothing for three intervals reconnects.
	EventHeartbeat = "heartbeat"
	// EventStreamTruncated says that events after the requested id were
	// pruned (older than the daemon's --event-retention); its data is a
	// StreamTruncated. The stream goes on from the oldest retained event.
	EventStreamTruncated = "stream.truncated"
)

// HeartbeatHeader is a header of the WebSocket handshake answer: the
// heartbeat interval of the stream as a Go duration ("15s").
const HeartbeatHeader = "Appstore-Heartbeat"

// StreamTruncated is the data of a stream.truncated message.
type StreamTruncated struct {
	// Since is the id the stream was asked to start after.
	Since int64 `json:"since"`
	// PrunedThrough is the id up to which events were deleted; the
	// stream continues after it.
	PrunedThrough int64 `json:"pruned_through"`
}

// EventCursor is the answer of GET /api/v1/events/last.
type EventCursor struct {
	// LastID is the id of the newest event, 0 when there is none.
	LastID int64 `json:"last_id"`
}
