package nft

import "testing"

func TestRuleKeyComment(t *testing.T) {
	for _, k := range []RuleKey{{"sg-1", "sgr-2"}, {"sg-a/b", "sgr-c"}} {
		got, ok := keyOf(userData(k))
		if !ok || got != k {
			t.Errorf("key %v: comment decodes to %v, %v", k, got, ok)
		}
	}
	if ud := userData(RuleKey{}); ud != nil {
		t.Errorf("a rule without key gets a comment: %q", ud)
	}
	if _, ok := keyOf([]byte("garbage")); ok {
		t.Error("garbage decodes to a key")
	}
}

func TestParseKey(t *testing.T) {
	for _, s := range []string{"", "no-slash", "/r", "g/"} {
		if k, ok := parseKey(s); ok {
			t.Errorf("parseKey(%q) = %v", s, k)
		}
	}
}
