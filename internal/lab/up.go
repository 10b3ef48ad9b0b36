package lab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
)

// Up builds a lab. On failure it removes whatever it built. It does not save
// the state; call Save for a later process to find the lab.
func Up(ctx context.Context, s Spec) (*Lab, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	if err := prepareNetnsDir(); err != nil {
		return nil, err
	}
	if old, err := listNetns(nsPrefix(s.Name)); err != nil {
		return nil, err
	} else if len(old) > 0 {
		return nil, fmt.Errorf("lab %s already exists (%d namespaces %s…); take it down first (palisade lab down %s)",
			s.Name, len(old), nsPrefix(s.Name), s.Name)
	}
	l := newLab(s)
	if err := l.build(ctx); err != nil {
		if derr := l.Down(); derr != nil {
			err = errors.Join(err, fmt.Errorf("cleaning up: %w", derr))
		}
		return nil, err
	}
	return l, nil
}

// workers bounds concurrent namespace work: most of it waits on the kernel.
func workers() int { return 4 * runtime.GOMAXPROCS(0) }

// build makes the lab's namespaces, in order: the shared ones (fabric,
// internet, hosts), the fabric's links between the routers, the instances,
// then the routers' routes and filters.
func (l *Lab) build(ctx context.Context) error {
	routers := l.routers()
	if err := l.createShared(ctx, routers); err != nil {
		return err
	}
	if err := l.buildFabric(routers); err != nil {
		return err
	}
	if err := l.buildInstances(ctx); err != nil {
		return err
	}
	if err := l.installRoutes(ctx, routers); err != nil {
		return err
	}
	return l.installFilters(ctx, routers)
}

// routers are the internet's namespace, then each host's.
func (l *Lab) routers() []string {
	n := l.Spec.Name
	routers := []string{internetNs(n)}
	for _, h := range l.Spec.Hosts {
		routers = append(routers, hostNs(n, h))
	}
	return routers
}

// createShared creates the fabric's namespace and the routers'.
func (l *Lab) createShared(ctx context.Context, routers []string) error {
	shared := append([]string{fabricNs(l.Spec.Name)}, routers...)
	return parallel(ctx, len(shared), workers(), func(i int) error {
		list := routerSysctls
		if i == 0 {
			list = commonSysctls
		}
		return createNetns(shared[i], func() error { return setupLoopback(list) })
	})
}

// buildInstances creates each instance's namespace, linked to its host's.
func (l *Lab) buildInstances(ctx context.Context) error {
	hostFds := map[string]int{}
	for _, h := range l.Spec.Hosts {
		f, err := os.Open(netnsPath(hostNs(l.Spec.Name, h)))
		if err != nil {
			return err
		}
		defer f.Close()
		hostFds[h] = int(f.Fd())
	}
	// Instances first: their secondary ENIs go into their namespaces.
	err := parallel(ctx, len(l.Spec.Instances), workers(), func(i int) error {
		in := &l.Spec.Instances[i]
		if in.NICOf != "" {
			return nil
		}
		return l.buildInstance(in, instanceMAC(i), hostFds[in.Host])
	})
	if err != nil {
		return err
	}
	return parallel(ctx, len(l.Spec.Instances), workers(), func(i int) error {
		in := &l.Spec.Instances[i]
		if in.NICOf == "" {
			return nil
		}
		return l.buildENI(in, instanceMAC(i), hostFds[in.Host])
	})
}

// installRoutes routes the internet's and each host's traffic.
func (l *Lab) installRoutes(ctx context.Context, routers []string) error {
	return parallel(ctx, len(routers), workers(), func(i int) error {
		if i == 0 {
			return inNetns(routers[0], l.internetRoutes)
		}
		host := l.Spec.Hosts[i-1]
		return inNetns(routers[i], func() error { return l.hostRoutes(host) })
	})
}

// installFilters loads the routers' own nftables rulesets: the network's
// rules (VPC isolation in the hosts, NAT in the internet), not the security
// groups', which are the agents'.
func (l *Lab) installFilters(ctx context.Context, routers []string) error {
	return parallel(ctx, len(routers), workers(), func(i int) error {
		if i == 0 {
			return applyNft(routers[0], internetRuleset(&l.Spec))
		}
		return applyNft(routers[i], hostRuleset(&l.Spec))
	})
}

// setupLoopback configures a fresh namespace from inside.
func setupLoopback(list []sysctl) error {
	if err := setSysctls(list); err != nil {
		return err
	}
	return linkUp("lo")
}
