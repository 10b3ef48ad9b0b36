package analyze

import (
	"regexp"
	"strings"

	"github.com/palisade-sg/palisade/internal/analysis/audit"
	"github.com/palisade-sg/palisade/internal/core/policy"
)

// The audit judges the whole cloud, so a finding on the caller's resource
// may name another account's instance: SGA-014 lists the non-production
// instances that reach a production one, with their env tag, and the one
// that reaches it may be another account's (through a peer group or an
// address). The caller learns that such an instance exists, not which or
// its tags.
var instanceRef = regexp.MustCompile(`\b(?:i|eni)-[0-9a-z]+(?: \(env=[^)]*\))?`)

// anotherAccounts stands for another account's instance in a finding.
const anotherAccounts = "an instance of another account"

// redacted rewrites the findings so that none names an instance of the
// cloud that is not the caller's (owned).
func redacted(fs []audit.Finding, cl *policy.Cloud, owned func(string) bool) []audit.Finding {
	foreign := false // a cloud of the caller's alone has nothing to hide (and the regexp is slow)
	for id := range cl.Instances {
		if !owned(id) {
			foreign = true
			break
		}
	}
	if !foreign {
		return fs
	}
	hide := func(s string) string {
		return instanceRef.ReplaceAllStringFunc(s, func(m string) string {
			id, _, _ := strings.Cut(m, " ")
			if cl.Instances[id] == nil || owned(id) {
				return m
			}
			return anotherAccounts
		})
	}
	for i := range fs {
		fs[i].Message, fs[i].Fix = hide(fs[i].Message), hide(fs[i].Fix)
	}
	return fs
}
