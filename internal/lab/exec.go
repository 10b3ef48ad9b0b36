package lab

import (
	"errors"
	"fmt"
	"os"
	"os/exec"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// StartIn starts cmd inside a named namespace of the lab (an instance's,
// a host's, e.g. to run an agent there). The child is forked from a thread
// that sits in the namespace, so it starts there; the caller waits.
func StartIn(ns string, cmd *exec.Cmd) error {
	return inNetns(ns, cmd.Start)
}

// Exec runs argv inside an instance's namespace with this process's
// standard input and output (`palisade lab exec`).
func Exec(l *Lab, instanceID string, argv []string) error {
	ns := l.InstanceNetns(instanceID)
	if ns == "" {
		return fmt.Errorf("lab %s has no instance %q", l.Spec.Name, instanceID)
	}
	if len(argv) == 0 {
		return errors.New("exec needs a command")
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := StartIn(ns, cmd); err != nil {
		return err
	}
	return cmd.Wait()
}

// FlushConntrack forgets every connection the hosts and the internet track,
// so that probes after a policy change meet the new policy rather than
// entries the old one let in.
func FlushConntrack(l *Lab) error {
	routers := []string{l.InternetNetns()}
	for _, h := range l.Spec.Hosts {
		routers = append(routers, l.HostNetns(h))
	}
	var errs []error
	for _, ns := range routers {
		if err := inNetns(ns, flushConntrack); err != nil {
			errs = append(errs, fmt.Errorf("flush conntrack in %s: %w", ns, err))
		}
	}
	return errors.Join(errs...)
}

// flushConntrack empties the conntrack table of the current thread's
// namespace, one address family at a time (the kernel may flush only the
// family a request names).
func flushConntrack() error {
	for _, family := range []uint8{unix.AF_INET, unix.AF_INET6} {
		req := nl.NewNetlinkRequest(int(netlink.ConntrackTable)<<8|nl.IPCTNL_MSG_CT_DELETE, unix.NLM_F_ACK)
		req.AddData(&nl.Nfgenmsg{NfgenFamily: family, Version: nl.NFNETLINK_V0})
		if _, err := req.Execute(unix.NETLINK_NETFILTER, 0); err != nil {
			return err
		}
	}
	return nil
}
