package model

import (
	"crypto/rand"
	"strings"
)

const idAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

// NewID returns a fresh resource ID such as "sg-bp1k2j3h4g5f6d7s8a9q": the
// prefix, then 20 lower-case alphanumerics, the shape ECS uses.
func NewID(prefix string) string {
	var b [20]byte
	rand.Read(b[:])
	var s strings.Builder
	s.WriteString(prefix)
	s.WriteByte('-')
	for _, c := range b {
		s.WriteByte(idAlphabet[int(c)%len(idAlphabet)])
	}
	return s.String()
}

// HasPrefix reports whether id is shaped like an ID with the given prefix:
// "sg-" followed by at least one letter, digit, underscore or hyphen.
func HasPrefix(id, prefix string) bool {
	rest, ok := strings.CutPrefix(id, prefix+"-")
	if !ok || rest == "" || len(id) > 128 {
		return false
	}
	for _, c := range rest {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
