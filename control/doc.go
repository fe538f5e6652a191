// Package control is the voxfleet control protocol: the messages exchanged
// over DIR/control.sock between the `voxfleet` CLI and the running daemon,
// the client that sends them, and the human tables the CLI prints.
//
// The protocol is HTTP/1.1 over the Unix socket with JSON bodies. Errors come
// back as {"error": "..."} with a 4xx or 5xx status. Long operations (restart,
// upgrade) stream one JSON Progress object per line as they go.
//
// control imports only fleetapi from this module (the fleet's state and the
// error body are fleetapi's); supervisor and cmd/voxfleet import it.
package control
