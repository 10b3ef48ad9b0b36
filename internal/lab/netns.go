package lab

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"
)

// netnsDir is where named namespaces live, as iproute2 keeps them, so that
// `ip netns exec` and `ip netns list` see the lab.
const netnsDir = "/run/netns"

func netnsPath(name string) string { return filepath.Join(netnsDir, name) }

// onThread runs fn on a locked OS thread and puts the thread back into the
// namespace it started in. A thread that cannot be put back stays locked so
// the runtime discards it rather than reuse it in the wrong namespace.
func onThread(fn func() error) error {
	runtime.LockOSThread()
	home, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("open the current network namespace: %w", err)
	}
	defer home.Close()
	err = fn()
	if rerr := unix.Setns(int(home.Fd()), unix.CLONE_NEWNET); rerr != nil {
		return errors.Join(err, fmt.Errorf("return to the original network namespace: %w", rerr))
	}
	runtime.UnlockOSThread()
	return err
}

// enter switches the current (locked) thread into a named namespace.
func enter(name string) error {
	f, err := os.Open(netnsPath(name))
	if err != nil {
		return fmt.Errorf("namespace %s: %w (is the lab up?)", name, err)
	}
	defer f.Close()
	if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("enter namespace %s: %w", name, err)
	}
	return nil
}

// inNetns runs fn on a thread inside the named namespace.
func inNetns(name string, fn func() error) error {
	return onThread(func() error {
		if err := enter(name); err != nil {
			return err
		}
		return fn()
	})
}

// createNetns makes a named namespace and runs setup inside it.
func createNetns(name string, setup func() error) error {
	return onThread(func() error {
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("create namespace %s: %w (creating namespaces needs root)", name, err)
		}
		p := netnsPath(name)
		f, err := os.OpenFile(p, os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0o444)
		if err != nil {
			return fmt.Errorf("create namespace %s: %w", name, err)
		}
		f.Close()
		if err := unix.Mount("/proc/thread-self/ns/net", p, "none", unix.MS_BIND, ""); err != nil {
			os.Remove(p)
			return fmt.Errorf("bind namespace %s: %w", name, err)
		}
		return setup()
	})
}

// deleteNetns removes a named namespace; the kernel frees it once nothing
// (process, open file) holds it any more. Missing namespaces are fine.
func deleteNetns(name string) error {
	p := netnsPath(name)
	if err := unix.Unmount(p, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unmount %s: %w", p, err)
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", p, err)
	}
	return nil
}

// listNetns returns the named namespaces that start with prefix.
func listNetns(prefix string) ([]string, error) {
	ents, err := os.ReadDir(netnsDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), prefix) {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

// prepareNetnsDir creates /run/netns as a shared mount point, as iproute2
// does, so namespaces made here show up in other mount namespaces too.
func prepareNetnsDir() error {
	if err := os.MkdirAll(netnsDir, 0o755); err != nil {
		return err
	}
	if err := unix.Mount("", netnsDir, "none", unix.MS_SHARED|unix.MS_REC, ""); err == nil {
		return nil
	} else if !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("make %s shared: %w", netnsDir, err)
	}
	// Not a mount point yet: bind it onto itself first.
	if err := unix.Mount(netnsDir, netnsDir, "none", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind %s: %w", netnsDir, err)
	}
	if err := unix.Mount("", netnsDir, "none", unix.MS_SHARED|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("make %s shared: %w", netnsDir, err)
	}
	return nil
}

// sysctl is one setting under /proc/sys/net, written in the namespace of
// the calling thread (the kernel resolves net sysctls per namespace).
type sysctl struct{ key, value string }

// setSysctls writes settings in the current thread's namespace. A value
// already in place is not written again: some writes (IPv6
// forwarding, disable_ipv6) spin on the kernel's rtnl lock even when nothing
// changes, which is slow while the kernel tears down another lab.
func setSysctls(list []sysctl) error {
	for _, s := range list {
		p := "/proc/sys/net/" + s.key
		if old, err := os.ReadFile(p); err == nil && sameValue(string(old), s.value) {
			continue
		}
		if err := os.WriteFile(p, []byte(s.value+"\n"), 0o644); err != nil {
			return fmt.Errorf("sysctl net/%s=%q: %w", s.key, s.value, err)
		}
	}
	return nil
}

func sameValue(a, b string) bool {
	return strings.Join(strings.Fields(a), " ") == strings.Join(strings.Fields(b), " ")
}

// Every namespace: no reverse-path filter (replies come back on other
// interfaces than a strict check expects), no ICMP rate limit at all (UDP
// probes rely on port-unreachable; the per-namespace global budget of the
// ratemask types would otherwise still cap it at a burst of 50), no
// duplicate address detection (addresses are usable at once), ping sockets
// for root, and settings a container may have inherited from its host reset.
var commonSysctls = []sysctl{
	{"ipv4/conf/all/rp_filter", "0"},
	{"ipv4/conf/default/rp_filter", "0"},
	{"ipv4/conf/all/arp_ignore", "0"},
	{"ipv4/conf/default/arp_ignore", "0"},
	{"ipv4/conf/all/arp_filter", "0"},
	{"ipv4/conf/default/arp_filter", "0"},
	{"ipv4/conf/all/proxy_arp", "0"},
	{"ipv4/conf/default/proxy_arp", "0"},
	{"ipv4/icmp_ratelimit", "0"},
	{"ipv4/icmp_ratemask", "0"},
	{"ipv4/icmp_echo_ignore_all", "0"},
	{"ipv6/icmp/ratelimit", "0"},
	{"ipv6/icmp/ratemask", ""},
	{"ipv6/conf/all/disable_ipv6", "0"},
	{"ipv6/conf/default/disable_ipv6", "0"},
	{"ipv6/conf/all/accept_dad", "0"},
	{"ipv6/conf/default/accept_dad", "0"},
	{"ipv6/conf/default/dad_transmits", "0"},
	{"ipv4/ping_group_range", "0 2147483647"},
}

// Routers (hosts and the internet) forward and send no redirects: the
// fabric is one segment, and a redirect would teach a host a shortcut that
// skips the internet's NAT.
var routerSysctls = append(append([]sysctl{}, commonSysctls...),
	sysctl{"ipv4/ip_forward", "1"},
	sysctl{"ipv6/conf/all/forwarding", "1"},
	sysctl{"ipv4/conf/all/send_redirects", "0"},
	sysctl{"ipv4/conf/default/send_redirects", "0"},
	sysctl{"ipv4/conf/all/accept_redirects", "0"},
	sysctl{"ipv4/conf/default/accept_redirects", "0"},
	sysctl{"ipv6/conf/all/accept_redirects", "0"},
	sysctl{"ipv6/conf/default/accept_redirects", "0"},
)

// Instances are end hosts.
var instanceSysctls = append(append([]sysctl{}, commonSysctls...),
	sysctl{"ipv4/ip_forward", "0"},
	sysctl{"ipv6/conf/all/forwarding", "0"},
	sysctl{"ipv6/conf/default/router_solicitations", "0"},
)
