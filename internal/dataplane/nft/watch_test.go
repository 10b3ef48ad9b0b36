package nft

import (
	"context"
	"testing"
	"time"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// TestWatch: each change another program makes to the table is notified
// (Kernel.Watch) and is drift, and the repair is notified; the Kernel's
// own applies are notified too, and are no drift.
func TestWatch(t *testing.T) {
	needKernel(t)
	ns := newNetns(t, "watch")
	k := openKernel(t, ns)
	ctx, cancel := context.WithCancel(context.Background())
	notes := make(chan struct{}, 1)
	done := make(chan error, 1)
	go func() {
		done <- k.Watch(ctx, func() {
			select {
			case notes <- struct{}{}:
			default:
			}
		})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Watch: %v", err)
		}
	}()
	// A deadline, not a timing: a notice comes within milliseconds.
	next := func(t *testing.T, what string) {
		t.Helper()
		select {
		case <-notes:
		case err := <-done:
			t.Fatalf("%s: Watch returned %v", what, err)
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: not notified", what)
		}
	}
	next(t, "listening")
	for _, tc := range tamperings(t, ns) {
		t.Run(tc.name, func(t *testing.T) {
			// An Apply that changes nothing commits nothing: no notice.
			if st := apply(t, k, tc.rs); st != (Stats{}) {
				next(t, "the Kernel's own apply")
				if d, err := k.Drifted(); d || err != nil {
					t.Fatalf("the Kernel's own apply: drifted %v, %v; want false", d, err)
				}
			}
			nftIn(t, ns, tc.cmd()...)
			next(t, "another program's change")
			if d, err := k.Drifted(); !d || err != nil {
				t.Fatalf("drifted %v, %v; want true", d, err)
			}
			apply(t, k, tc.rs)
			next(t, "the repair")
			if d, err := k.Drifted(); d || err != nil {
				t.Errorf("after the repair: drifted %v, %v", d, err)
			}
		})
	}
}

// TestTouches: a notification is of the table when it names it, in the
// inet family; changes to other tables are not.
func TestTouches(t *testing.T) {
	msg := func(family byte, attrs ...netlink.Attribute) []byte {
		b, err := netlink.MarshalAttributes(attrs)
		if err != nil {
			t.Fatal(err)
		}
		return append([]byte{family, unix.NFNETLINK_V0, 0, 0}, b...)
	}
	name := func(n string) netlink.Attribute { return netlink.Attribute{Type: 1, Data: []byte(n + "\x00")} }
	for _, tc := range []struct {
		name string
		data []byte
		want bool
	}{
		{"the table", msg(unix.NFPROTO_INET, name("palisade"), netlink.Attribute{Type: 2, Data: []byte("eg-1\x00")}), true},
		{"another table", msg(unix.NFPROTO_INET, name("someone-else")), false},
		{"the name in another family", msg(unix.NFPROTO_IPV4, name("palisade")), false},
		{"too short", []byte{unix.NFPROTO_INET}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := touches(tc.data, "palisade"); got != tc.want {
				t.Errorf("touches = %v, want %v", got, tc.want)
			}
		})
	}
}
