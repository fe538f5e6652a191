// Package consolee2e runs the Console's browser tests (frontend/e2e) against
// a real stack: voxbridge on FerretDB, Redis and MinIO, a real voxfleet
// with two workers, and nginx serving the built Console with the shipped
// site. Its test is behind the e2e build tag (make console-e2e); it drives
// test calls on the fleet for the browser script through a small control
// endpoint. It imports the Backend (api) and must not import the fleet's
// daemon or worker packages.
package consolee2e
