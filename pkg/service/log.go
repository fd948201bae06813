package service

import (
	"fmt"
	"io"
	"strings"

	"github.com/rs/zerolog"
)

func parseLevel(s string) (zerolog.Level, error) {
	l, err := zerolog.ParseLevel(strings.ToLower(strings.TrimSpace(s)))
	if err != nil || s == "" {
		return zerolog.InfoLevel, fmt.Errorf("MLC_LOG_LEVEL %q: want trace, debug, info, warn or error", s)
	}
	return l, nil
}

// NewLogger returns a JSON logger tagged with the service name. The level
// is per logger, never zerolog's global level.
func NewLogger(w io.Writer, service, level string) zerolog.Logger {
	l, err := parseLevel(level)
	if err != nil {
		l = zerolog.InfoLevel
	}
	return zerolog.New(w).Level(l).With().Timestamp().Str("service", service).Logger()
}
