// Package plainbody refuses request bodies sent with a content coding
// (Content-Encoding: gzip, deflate, br, …) on every HTTP server of the
// repository.
//
// fiber's Ctx.Body and BodyParser inflate such bodies with no limit, so a
// 1 MB request can become gigabytes in memory; fasthttp's multipart reader
// inflates gzip the same way. The body limit only bounds the bytes on the
// wire. No client of ours compresses what it sends, so a coded body is
// refused with 415 and {"error": …} before any handler reads it.
//
// New is the fiber middleware (voxbridge, the fleet worker); Wrap is the same
// check for net/http handlers (the voxfleet daemon, whose net/http server does
// not inflate bodies, refuses them too so that every server answers alike).
//
// plainbody imports nothing of this module but fleetapi (the {"error": …}
// body).
package plainbody
