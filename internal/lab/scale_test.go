package lab

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sg/palisade/internal/core/model"
)

// TestScale measures Up, a round of probes and Down for lab sizes named in
// PALISADE_LAB_SCALE (e.g. "10,100,1000"); it only logs, never judges time.
func TestScale(t *testing.T) {
	env := os.Getenv("PALISADE_LAB_SCALE")
	if env == "" {
		t.Skip("set PALISADE_LAB_SCALE=10,100,1000 to measure")
	}
	needRoot(t)
	for _, f := range strings.Split(env, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 2 {
			t.Fatalf("PALISADE_LAB_SCALE: %q is not a size of 2 or more", f)
		}
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			s := scaleSpec(testLabName(t, fmt.Sprintf("s%d", n)), n)
			t.Cleanup(func() { Remove(s.Name) })
			start := time.Now()
			l, err := Up(context.Background(), s)
			if err != nil {
				t.Fatal(err)
			}
			up := time.Since(start)
			// Every instance to its neighbour and from outside, TCP.
			var probes []ProbeSpec
			for i, in := range s.Instances {
				next := s.Instances[(i+1)%n].ID
				probes = append(probes, ProbeSpec{From: in.ID, To: next, Proto: model.TCP, Port: 80},
					ProbeSpec{From: outside4.String(), To: in.ID, Proto: model.TCP, Port: 80})
			}
			start = time.Now()
			res := Probe(context.Background(), l, probes)
			probe := time.Since(start)
			delivered := 0
			for _, r := range res {
				if r.Err != nil {
					t.Fatal(r.Err)
				}
				if r.Delivered {
					delivered++
				}
			}
			start = time.Now()
			if err := l.Down(); err != nil {
				t.Fatal(err)
			}
			t.Logf("%d instances on %d hosts: Up %v; %d probes (%d delivered) %v; Down %v",
				n, len(s.Hosts), up.Round(time.Millisecond), len(probes), delivered, probe.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
		})
	}
}

// scaleSpec has n instances in VPCs of 50, one host per 100 (two at least),
// half with public addresses, half with IPv6.
func scaleSpec(name string, n int) Spec {
	s := Spec{Name: name, Outside: []netip.Addr{outside4, outside6}}
	for h := range max(2, n/100) {
		s.Hosts = append(s.Hosts, fmt.Sprintf("h%d", h))
	}
	for i := range n {
		in := Instance{ID: fmt.Sprintf("i-%d", i), VPC: fmt.Sprintf("vpc-%d", i/50),
			PrivateIP: netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}),
			Host:      s.Hosts[i%len(s.Hosts)]}
		if i%2 == 0 {
			in.PublicIP = netip.AddrFrom4([4]byte{100, 64 + byte(i>>16), byte(i >> 8), byte(i)})
		}
		if i%4 < 2 {
			in.IPv6 = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 14: byte(i >> 8), 15: byte(i)})
		}
		s.Instances = append(s.Instances, in)
	}
	return s
}
