#!/usr/bin/env bash
# Builds the MinIO server the tests run (internal/testminio) into
# $(go env GOPATH)/bin/minio. Idempotent: skipped when that binary exists. The
# first build takes about 6 minutes on 2 cores.
set -euo pipefail
version=v0.0.0-20260212201848-7aac2a2c5b7c
bin=$(go env GOPATH)/bin/minio
if [ ! -x "$bin" ]; then
	echo "deps: go install github.com/minio/minio@$version (slow the first time)"
	go install "github.com/minio/minio@$version"
fi
echo "deps: minio ok ($bin)"
