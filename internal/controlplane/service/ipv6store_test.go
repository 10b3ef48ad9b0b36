package service

import (
	"net/netip"
	"path/filepath"
	"slices"
	"testing"

	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/controlplane/store/sqlite"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// TestIPv6RecordsRoundTrip stores instance and ENI records in SQLite as
// JSON, reopens the file and reads them back: a record from before NICs
// held several IPv6 addresses (only "ipv6") reads with that one address,
// one with several keeps them all in order, and Addresses() lists them
// after the IPv4 ones.
func TestIPv6RecordsRoundTrip(t *testing.T) {
	a1, a2, a3 := netip.MustParseAddr("2408:4000:0:1::4"), netip.MustParseAddr("2408:4000:0:1::5"), netip.MustParseAddr("2408:4000:0:1::6")
	v4 := netip.MustParseAddr("192.168.1.10")
	for _, tt := range []struct {
		name string
		kind store.Kind
		data string // the stored JSON
		want []netip.Addr
	}{
		{"old instance", KindInstance, `{"id":"i-old","region":"cn-hangzhou","owner":"1","privateIp":"192.168.1.10","ipv6":"2408:4000:0:1::4","status":"Running"}`, []netip.Addr{a1}},
		{"old ENI", KindENI, `{"id":"eni-old","region":"cn-hangzhou","owner":"1","privateIp":"192.168.1.10","ipv6":"2408:4000:0:1::4","type":"Secondary"}`, []netip.Addr{a1}},
		{"instance without IPv6", KindInstance, `{"id":"i-none","region":"cn-hangzhou","owner":"1","privateIp":"192.168.1.10","status":"Running"}`, nil},
		{"instance with three", KindInstance, `{"id":"i-three","region":"cn-hangzhou","owner":"1","privateIp":"192.168.1.10","ipv6":"2408:4000:0:1::4","moreIpv6":["2408:4000:0:1::5","2408:4000:0:1::6"],"status":"Running"}`, []netip.Addr{a1, a2, a3}},
		{"ENI with two", KindENI, `{"id":"eni-two","region":"cn-hangzhou","owner":"1","privateIp":"192.168.1.10","ipv6":"2408:4000:0:1::4","moreIpv6":["2408:4000:0:1::5"],"type":"Secondary"}`, []netip.Addr{a1, a2}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "test.db")
			st, err := sqlite.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			// Raw bytes, as an older server wrote them: no decoded object.
			if _, err := st.Update(t.Context(), func(tx store.Tx) error {
				return tx.Put(store.Record{Kind: tt.kind, ID: "x", Account: "1", Region: "cn-hangzhou", Data: []byte(tt.data)})
			}); err != nil {
				t.Fatal(err)
			}
			st.Close()
			// Read back from the reopened file, written again as this
			// server writes it, and read once more.
			read := func() (six, addrs []netip.Addr) {
				st, err := sqlite.Open(path)
				if err != nil {
					t.Fatal(err)
				}
				defer st.Close()
				if _, err := st.Update(t.Context(), func(tx store.Tx) error {
					switch tt.kind {
					case KindInstance:
						in, _, err := store.GetAs[model.Instance](tx, tt.kind, "x")
						six, addrs = in.IPv6s(), in.Addresses()
						if err == nil {
							err = store.PutAs(tx, tt.kind, "x", "1", "cn-hangzhou", &in)
						}
						return err
					default:
						n, _, err := store.GetAs[model.NetworkInterface](tx, tt.kind, "x")
						six, addrs = n.IPv6s(), n.Addresses()
						if err == nil {
							err = store.PutAs(tx, tt.kind, "x", "1", "cn-hangzhou", &n)
						}
						return err
					}
				}); err != nil {
					t.Fatal(err)
				}
				return six, addrs
			}
			for range 2 {
				six, addrs := read()
				if !slices.Equal(six, tt.want) {
					t.Fatalf("IPv6 addresses %v, want %v", six, tt.want)
				}
				if want := append([]netip.Addr{v4}, tt.want...); !slices.Equal(addrs, want) {
					t.Fatalf("Addresses %v, want %v", addrs, want)
				}
			}
		})
	}
}
