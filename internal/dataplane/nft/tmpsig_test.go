package nft

import (
	"testing"

	"github.com/google/nftables"
	"github.com/palisade-sg/palisade/internal/testkit/cloudgen"
)

func TestTmpSig(t *testing.T) {
	ns := newNetns(t, "tmp")
	k := openKernel(t, ns)
	c := genCloud(1, cloudgen.Small, false)
	rs := Build(c, "h1", Options{InterfacePrefix: "pi-", FlowLog: true})
	apply(t, k, rs)
	for _, ch := range rs.Chains[1:] {
		rules, _ := k.conn.GetRules(k.table, &nftables.Chain{Table: k.table, Name: ch.Name})
		dry := &encoder{table: k.table}
		for i, r := range ch.Rules {
			x, _ := dry.rule(r, Counter{})
			a, b := exprSig(x), exprSig(rules[i].Exprs)
			if a != b {
				t.Logf("chain %s rule %d\nwant %s\ngot  %s", ch.Name, i, a, b)
				return
			}
		}
	}
}
