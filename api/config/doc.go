// Package config reads and validates voxbridge's settings from the
// environment (systemd EnvironmentFile=) with flags overriding the non-secret
// ones. Validation collects every missing or bad setting into one *Error, so
// an operator fixes them all in one pass.
//
// config imports nothing from this module but svcauth.
package config
