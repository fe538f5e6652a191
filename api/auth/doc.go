// Package auth holds what authenticates people and programs to /api/v1:
// password hashing (bcrypt), access and refresh JWTs (HS256 with
// JWT_SECRET), their revocation in Redis, login rate limits in Redis, and API
// key generation and hashing.
//
// auth imports nothing from this module.
package auth
