package ircbridge

import "github.com/google/uuid"

// newID returns a fresh stanza id (a random UUID, as Biboumi uses).
func newID() string { return uuid.NewString() }
