// Package phone normalises telephone numbers to E.164 (+ and 8 to 15 digits,
// no leading zero). It is pure: no I/O.
//
// phone imports nothing from this module.
package phone
