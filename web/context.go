package web

import (
	"context"
	"slices"
)

// Identity is who makes a request: the user and the session, as the auth middleware found them.
type Identity struct {
	User    User
	Session Session
	// Ref names the session in the audit and in command origins without revealing its token: the first 16 hex
	// digits of its IDHash.
	Ref    string
	Client string // the client's address
}

// identityKey is the context key of the Identity; private, so only WithIdentity sets it.
type identityKey struct{}

// WithIdentity returns ctx carrying id. The server's auth middleware calls it.
func WithIdentity(ctx context.Context, id *Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// IdentityFrom returns the identity of the request, or nil for a request without a session.
func IdentityFrom(ctx context.Context) *Identity {
	id, _ := ctx.Value(identityKey{}).(*Identity)
	return id
}

// Role returns the user's role, 0 for nil.
func (id *Identity) Role() Role {
	if id == nil {
		return 0
	}
	return id.User.Role
}

// Sees reports whether the user may see (and, with the role, operate) points of area.
func (id *Identity) Sees(area string) bool {
	return id != nil && inArea(id.User.Areas, area)
}

// restricted reports whether the user sees only some areas.
func (id *Identity) restricted() bool { return id != nil && len(id.User.Areas) > 0 }

// areas returns a copy of the user's areas.
func (id *Identity) areas() []string { return slices.Clone(id.User.Areas) }
