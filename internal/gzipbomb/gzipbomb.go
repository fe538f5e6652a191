// Package gzipbomb builds small gzip bodies that inflate to a large size,
// to show that a server refuses compressed request bodies without
// inflating them (see plainbody).
//
// It is imported only by tests and benchmarks.
package gzipbomb

import (
	"bytes"
	"compress/gzip"
)

// Make returns a gzip stream of inflated zero bytes (about 1/1000 of that
// on the wire).
func Make(inflated int64) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	chunk := make([]byte, 1<<20)
	for left := inflated; left > 0; left -= int64(len(chunk)) {
		n := min(left, int64(len(chunk)))
		_, _ = zw.Write(chunk[:n]) // a bytes.Buffer never fails
	}
	_ = zw.Close()
	return buf.Bytes()
}
