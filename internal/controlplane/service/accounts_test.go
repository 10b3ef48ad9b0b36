package service

import (
	"testing"
)

func TestAccountsAndCallers(t *testing.T) {
	e := newEnv(t)
	key, created, err := e.s.Bootstrap(e.ctx, "", "")
	if err != nil || !created || key.Account != FirstAccountUID {
		t.Fatalf("bootstrap: %+v %v %v", key, created, err)
	}
	again, created, err := e.s.Bootstrap(e.ctx, "", "")
	if err != nil || created || again != key {
		t.Fatalf("second bootstrap made a new key: %+v %v %v", again, created, err)
	}
	acct, other, err := e.s.CreateAccount(e.ctx, "other")
	if err != nil || acct.UID == FirstAccountUID || other.Account != acct.UID {
		t.Fatalf("second account: %+v %+v %v", acct, other, err)
	}
	for _, tt := range []struct {
		name, key, region string
		need              bool
		code, account     string
	}{
		{"first", key.ID, "cn-hangzhou", true, "", FirstAccountUID},
		{"other", other.ID, "cn-hangzhou", true, "", acct.UID},
		{"no region needed", key.ID, "", false, "", FirstAccountUID},
		{"region needed", key.ID, "", true, "MissingParameter", ""},
		{"unknown region", key.ID, "mars-1", true, "InvalidRegionId.NotFound", ""},
		{"unknown key", "LTAInothere", "cn-hangzhou", true, "InvalidAccessKeyId.NotFound", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := e.s.CallerOf(e.ctx, tt.key, tt.region, tt.need)
			wantCode(t, err, tt.code)
			if err == nil && c.Account != tt.account {
				t.Fatalf("account %s, want %s", c.Account, tt.account)
			}
		})
	}
	if secret, ok := e.s.LookupSecret(key.ID); !ok || secret != key.Secret {
		t.Fatal("LookupSecret does not find the first key")
	}
	if zones := e.s.DescribeZones(Caller{Region: "cn-hangzhou"}); len(zones) == 0 || zones[0].LocalName == "" {
		t.Fatalf("zones of cn-hangzhou: %v", zones)
	}
}
