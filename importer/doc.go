// Package importer parses contact uploads (CSV or a JSON array) into rows
// with E.164 numbers, reporting each bad row instead of failing the upload,
// and dropping duplicates within the file. It is pure: no I/O beyond the
// reader it is given.
//
// importer imports nothing from this module but phone.
package importer
