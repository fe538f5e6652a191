// Package integration runs the fleet as an operator deploys it: the real
// voxfleet binary (daemon and workers) behind a real nginx with the site from
// deploy/nginx, driven by Twilio Media Streams calls and /attach requests.
//
// It holds tests only; nothing imports it.
package integration
