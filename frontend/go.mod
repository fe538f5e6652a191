// The Console is no Go code: this file keeps the go tool (./... patterns of
// the project's module) out of frontend/, where npm packages may ship .go files.
module github.com/voxplatform/vox/frontend

go 1.26
