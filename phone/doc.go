// Package phone normalises telephone numbers to E.164 with each country's
// numbering plan (github.com/nyaruka/phonenumbers): it is the one place
// that reads a number for contacts, the do-not-call list, phone numbers and
// caller ids. It is pure: no I/O.
//
// phone imports nothing from this module.
package phone
