package server

import (
	"context"
	"log/slog"

	"hmi/web"
)

const (
	slogInfo  = slog.LevelInfo
	slogDebug = slog.LevelDebug
)

// identityHolder lets the request logger, which runs outside the authentication, learn who made the request.
type identityHolder struct{ id *web.Identity }

// holderKey is the context key of the identityHolder; private to this package.
type holderKey struct{}

func withHolder(ctx context.Context, h *identityHolder) context.Context {
	return context.WithValue(ctx, holderKey{}, h)
}

func holderFrom(ctx context.Context) *identityHolder {
	h, _ := ctx.Value(holderKey{}).(*identityHolder)
	return h
}
