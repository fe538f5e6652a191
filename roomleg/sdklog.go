package roomleg

import (
	"context"
	"log/slog"

	"github.com/go-logr/logr"
	protoLogger "github.com/livekit/protocol/logger"
	lksdk "github.com/livekit/server-sdk-go/v2"
)

// SetSDKLogger sends the LiveKit SDK's own logs (signalling, pion's
// WebRTC stack), warnings and errors only, to logger; without it they go to
// the standard logger at every level. The SDK's logger is global: call this
// once at start, before any leg joins.
func SetSDKLogger(logger *slog.Logger) {
	lksdk.SetLogger(sdkLogger(logger.With("component", "livekit")))
}

// sdkLogger routes the SDK's logs to logger, warnings and errors only.
func sdkLogger(logger *slog.Logger) protoLogger.Logger {
	return protoLogger.LogRLogger(logr.FromSlogHandler(minLevel{logger.Handler(), slog.LevelWarn}))
}

// minLevel drops records below its level.
type minLevel struct {
	slog.Handler
	level slog.Level
}

func (h minLevel) Enabled(ctx context.Context, lv slog.Level) bool {
	return lv >= h.level && h.Handler.Enabled(ctx, lv)
}

func (h minLevel) WithAttrs(as []slog.Attr) slog.Handler {
	return minLevel{h.Handler.WithAttrs(as), h.level}
}

func (h minLevel) WithGroup(name string) slog.Handler {
	return minLevel{h.Handler.WithGroup(name), h.level}
}
