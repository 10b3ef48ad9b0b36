// Package labctl runs "palisade lab up" and "lab down": a lab that outlives
// the command, with its own server (or a given one) and one agent per host
// as detached processes, a control file that lists them, and a wait until
// every instance is enforced. The CLI only reads the flags.
package labctl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/vpc"

	"github.com/palisade-sg/palisade/apiclient"
	"github.com/palisade-sg/palisade/internal/lab"
	"github.com/palisade-sg/palisade/internal/lab/play"
)

// Control is what `lab down` needs besides the lab's own state: the
// processes `lab up` started and the server it registered with.
type Control struct {
	Server      string
	AccessKeyID string // the tenant's key, which registers the cloud
	Secret      string
	// The operator's key binds the instances and runs the agents.
	OperatorKeyID  string `json:",omitempty"`
	OperatorSecret string `json:",omitempty"`
	Pids           []int  // the lab's own server (if any) and agents
}

// ControlPath is where the control of lab name is kept.
func ControlPath(name string) string { return filepath.Join(lab.DefaultStateDir, name+".ctl") }

// Up brings a lab up in steps: a server (started or given), a cloud
// registered through the official SDK, the lab built from what the server
// says the instances are, the instances bound to their hosts, one agent per
// host, and a wait until every instance is enforced. The returned control
// lists what was started, for Down, also on an error.
func Up(name string, hosts, instances int, serverAddr string, tenant, operator Key, stdout io.Writer) (*Control, error) {
	if err := os.MkdirAll(lab.DefaultStateDir, 0o755); err != nil {
		return nil, err
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	ctl, err := labServer(self, name, serverAddr, tenant, operator)
	if err != nil {
		return ctl, err
	}
	if err := saveControl(name, ctl); err != nil {
		return ctl, err
	}
	c, err := newLabClients(ctl)
	if err != nil {
		return ctl, err
	}
	vpcID, groupID, err := c.registerCloud(name, instances)
	if err != nil {
		return ctl, err
	}
	spec, err := c.labSpec(name, vpcID, hosts)
	if err != nil {
		return ctl, err
	}
	l, err := lab.Up(context.Background(), spec)
	if err != nil {
		return ctl, err
	}
	if err := l.Save(lab.DefaultStateDir); err != nil {
		return ctl, err
	}
	api, err := apiclient.New(ctl.Server, ctl.OperatorKeyID, ctl.OperatorSecret, play.Region)
	if err != nil {
		return ctl, err
	}
	if err := play.Bind(context.Background(), api, l); err != nil {
		return ctl, err
	}
	if err := startLabAgents(self, name, l, ctl); err != nil {
		return ctl, err
	}
	if err := waitApplied(c.ecs, l, 30*time.Second); err != nil {
		return ctl, err
	}
	printLab(stdout, name, l, ctl, groupID)
	return ctl, nil
}

// Key is an access key pair, for a lab registered in a server of the
// user's (--server): a tenant's, and the operator's.
type Key struct{ ID, Secret string }

// labServer starts the lab's own server, or takes the given one with the
// tenant's and the operator's keys from the environment.
func labServer(self, name, serverAddr string, tenant, operator Key) (*Control, error) {
	ctl := &Control{Server: serverAddr}
	if serverAddr == "" {
		return ctl, startLabServer(self, name, ctl)
	}
	if tenant.ID == "" || tenant.Secret == "" || operator.ID == "" || operator.Secret == "" {
		return nil, errors.New("--server needs a tenant's key in PALISADE_ACCESS_KEY_ID and PALISADE_ACCESS_KEY_SECRET " +
			"and the operator's in PALISADE_OPERATOR_KEY_ID and PALISADE_OPERATOR_KEY_SECRET")
	}
	ctl.AccessKeyID, ctl.Secret = tenant.ID, tenant.Secret
	ctl.OperatorKeyID, ctl.OperatorSecret = operator.ID, operator.Secret
	return ctl, nil
}

// labClients are official-SDK clients of the lab's server.
type labClients struct {
	ecs *ecs.Client
	vpc *vpc.Client
}

func newLabClients(ctl *Control) (*labClients, error) {
	ec, err := ecs.NewClientWithAccessKey(play.Region, ctl.AccessKeyID, ctl.Secret)
	if err != nil {
		return nil, err
	}
	ec.Domain = ctl.Server
	vc, err := vpc.NewClientWithAccessKey(play.Region, ctl.AccessKeyID, ctl.Secret)
	if err != nil {
		return nil, err
	}
	vc.Domain = ctl.Server
	return &labClients{ecs: ec, vpc: vc}, nil
}

// plain sends a request over plain HTTP: the lab's server speaks it on
// loopback.
func plain(r requests.AcsRequest) { r.SetScheme("http") }

// registerCloud registers a network, a group and the instances (half of
// them with an EIP) through the official SDK.
func (c *labClients) registerCloud(name string, instances int) (vpcID, groupID string, err error) {
	ec, vc := c.ecs, c.vpc
	vreq := vpc.CreateCreateVpcRequest()
	plain(vreq)
	vreq.CidrBlock, vreq.VpcName = "192.168.0.0/16", "lab-"+name
	v, err := vc.CreateVpc(vreq)
	if err != nil {
		return "", "", err
	}
	sreq := vpc.CreateCreateVSwitchRequest()
	plain(sreq)
	sreq.VpcId, sreq.ZoneId, sreq.CidrBlock, sreq.VSwitchName = v.VpcId, play.Region+"-h", "192.168.1.0/24", "lab-"+name
	vsw, err := vc.CreateVSwitch(sreq)
	if err != nil {
		return "", "", err
	}
	greq := ecs.CreateCreateSecurityGroupRequest()
	plain(greq)
	greq.VpcId, greq.SecurityGroupName, greq.Description = v.VpcId, "lab-"+name, "Lab group: members reach each other; ping from anywhere."
	g, err := ec.CreateSecurityGroup(greq)
	if err != nil {
		return "", "", err
	}
	areq := ecs.CreateAuthorizeSecurityGroupRequest()
	plain(areq)
	areq.SecurityGroupId, areq.IpProtocol, areq.PortRange, areq.SourceCidrIp = g.SecurityGroupId, "icmp", "-1/-1", "0.0.0.0/0"
	areq.Description = "ping"
	if _, err := ec.AuthorizeSecurityGroup(areq); err != nil {
		return "", "", err
	}
	rreq := ecs.CreateRunInstancesRequest()
	plain(rreq)
	rreq.VSwitchId, rreq.SecurityGroupId, rreq.Amount = vsw.VSwitchId, g.SecurityGroupId, requests.NewInteger(instances)
	rreq.ImageId, rreq.InstanceType, rreq.InstanceName = "aliyun_3_x64_20G_alibase_20240819.vhd", "ecs.g7.large", "lab-"+name
	run, err := ec.RunInstances(rreq)
	if err != nil {
		return "", "", err
	}
	ids := run.InstanceIdSets.InstanceIdSet
	for _, id := range ids[:(len(ids)+1)/2] {
		ereq := vpc.CreateAllocateEipAddressRequest()
		plain(ereq)
		eip, err := vc.AllocateEipAddress(ereq)
		if err != nil {
			return "", "", err
		}
		asreq := vpc.CreateAssociateEipAddressRequest()
		plain(asreq)
		asreq.AllocationId, asreq.InstanceId = eip.AllocationId, id
		if _, err := vc.AssociateEipAddress(asreq); err != nil {
			return "", "", err
		}
	}
	return v.VpcId, g.SecurityGroupId, nil
}

// labSpec is the lab for what the server says the VPC's instances are,
// spread over the hosts in turn.
func (c *labClients) labSpec(name, vpcID string, hosts int) (lab.Spec, error) {
	dreq := ecs.CreateDescribeInstancesRequest()
	plain(dreq)
	dreq.VpcId, dreq.PageSize = vpcID, requests.NewInteger(100)
	desc, err := c.ecs.DescribeInstances(dreq)
	if err != nil {
		return lab.Spec{}, err
	}
	spec := lab.Spec{Name: name, Outside: []netip.Addr{netip.MustParseAddr("198.51.100.7"), netip.MustParseAddr("2001:db8:ffff::7")}}
	for h := range hosts {
		spec.Hosts = append(spec.Hosts, "h"+strconv.Itoa(h))
	}
	for i, in := range desc.Instances.Instance {
		li := lab.Instance{ID: in.InstanceId, VPC: in.VpcAttributes.VpcId, Host: spec.Hosts[i%hosts]}
		if ips := in.VpcAttributes.PrivateIpAddress.IpAddress; len(ips) > 0 {
			li.PrivateIP, _ = netip.ParseAddr(ips[0])
		}
		li.PublicIP, _ = netip.ParseAddr(in.EipAddress.IpAddress)
		spec.Instances = append(spec.Instances, li)
	}
	return spec, nil
}

// startLabAgents starts one detached agent per host, recording each in the
// control file as it starts.
func startLabAgents(self, name string, l *lab.Lab, ctl *Control) error {
	for _, h := range l.Spec.Hosts {
		pid, err := startDetached(self, filepath.Join(lab.DefaultStateDir, name+"-agent-"+h+".log"),
			[]string{"PALISADE_ACCESS_KEY_ID=" + ctl.OperatorKeyID, "PALISADE_ACCESS_KEY_SECRET=" + ctl.OperatorSecret},
			agentArgs(lab.DefaultStateDir, name, ctl.Server, h, l.HostNetns(h))...)
		if err != nil {
			return err
		}
		ctl.Pids = append(ctl.Pids, pid)
		if err := saveControl(name, ctl); err != nil {
			return err
		}
	}
	return nil
}

// agentArgs are the arguments of lab name's agent of host h. Its flow-log
// state file is the lab's, in dir: the agent's default is named by the host
// alone, and every lab has hosts h0, h1, …, so the agents of two labs
// would take each other's open window for a crash (and SKIPDATA), and the
// one stopping first would remove the other's mark.
func agentArgs(dir, name, server, h, netns string) []string {
	return []string{"agent", "--server", server, "--host", h, "--netns", netns,
		"--flow-state", filepath.Join(dir, name+"-flowlog-"+h+".state"), "-v"}
}

// printLab tells the user what is up and how to use it.
func printLab(stdout io.Writer, name string, l *lab.Lab, ctl *Control, groupID string) {
	fmt.Fprintf(stdout, "lab %q is up: server %s, %d hosts, %d instances, group %s\n\n", name, ctl.Server, len(l.Spec.Hosts), len(l.Spec.Instances), groupID)
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "INSTANCE\tHOST\tINTERFACE\tPRIVATE\tPUBLIC")
	for _, in := range l.Spec.Instances {
		pub := "-"
		if in.PublicIP.IsValid() {
			pub = in.PublicIP.String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", in.ID, in.Host, l.Interface(in.ID), in.PrivateIP, pub)
	}
	tw.Flush()
	fmt.Fprintf(stdout, "\nOutside addresses: %v\n", l.Spec.Outside)
	fmt.Fprintf(stdout, "Use it with the key: export PALISADE_ENDPOINT=%s PALISADE_ACCESS_KEY_ID=%s PALISADE_ACCESS_KEY_SECRET=%s\n",
		ctl.Server, ctl.AccessKeyID, ctl.Secret)
	fmt.Fprintf(stdout, "The operator's key (palisade account, palisade host): PALISADE_OPERATOR_KEY_ID=%s PALISADE_OPERATOR_KEY_SECRET=%s\n",
		ctl.OperatorKeyID, ctl.OperatorSecret)
	fmt.Fprintf(stdout, "Then: palisade lab probe --name %s --from %s --to %s --proto icmp\n", name, l.Spec.Instances[0].ID, l.Spec.Outside[0])
}

// startLabServer starts `palisade serve` for the lab, detached, on a free
// loopback port, and waits until it answers.
func startLabServer(self, name string, ctl *Control) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	ctl.Server = ln.Addr().String()
	ln.Close()
	now := time.Now().UnixNano()
	ctl.AccessKeyID, ctl.Secret = "LTAIlab"+name, fmt.Sprintf("lab-%s-%d", name, now)
	ctl.OperatorKeyID, ctl.OperatorSecret = "LTAIlabop"+name, fmt.Sprintf("lab-op-%s-%d", name, now)
	db := filepath.Join(lab.DefaultStateDir, name+".db")
	// A store left by a lab of this name that was not taken down (its
	// WAL, its flow records) must not become this one's.
	removeStore(lab.DefaultStateDir, name)
	pid, err := startDetached(self, filepath.Join(lab.DefaultStateDir, name+"-server.log"),
		[]string{"PALISADE_ACCESS_KEY_ID=" + ctl.AccessKeyID, "PALISADE_ACCESS_KEY_SECRET=" + ctl.Secret,
			"PALISADE_OPERATOR_KEY_ID=" + ctl.OperatorKeyID, "PALISADE_OPERATOR_KEY_SECRET=" + ctl.OperatorSecret},
		"serve", "--listen", ctl.Server, "--db", db)
	if err != nil {
		return err
	}
	ctl.Pids = append(ctl.Pids, pid)
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get("http://" + ctl.Server + "/healthz"); err == nil {
			resp.Body.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("the lab's server did not start; see %s", filepath.Join(lab.DefaultStateDir, name+"-server.log"))
}

// startDetached starts this program in its own session, logging to logPath,
// with env (the keys it needs) added to its environment.
func startDetached(self, logPath string, env []string, args ...string) (int, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return 0, err
	}
	defer logf.Close()
	cmd := exec.Command(self, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	go cmd.Wait() // reap it if it ends while we still run
	return cmd.Process.Pid, nil
}

func saveControl(name string, ctl *Control) error {
	b, _ := json.MarshalIndent(ctl, "", "  ")
	return os.WriteFile(ControlPath(name), b, 0o600)
}

// waitApplied waits until every instance's host reports having applied its
// last change (DescribeInstances' PalisadePolicyInForce).
func waitApplied(ec *ecs.Client, l *lab.Lab, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		req := ecs.CreateDescribeInstancesRequest()
		req.SetScheme("http")
		req.PageSize = requests.NewInteger(100)
		resp, err := ec.DescribeInstances(req)
		if err != nil {
			return err
		}
		pending := 0
		// The SDK's struct does not know Palisade's extension fields: read them raw.
		var raw struct {
			Instances struct {
				Instance []struct {
					InstanceId            string
					PalisadeHost          string
					PalisadePolicyInForce bool
				}
			}
		}
		json.Unmarshal(resp.GetHttpContentBytes(), &raw)
		for _, in := range raw.Instances.Instance {
			if _, ok := l.Instance(in.InstanceId); ok && (in.PalisadeHost == "" || !in.PalisadePolicyInForce) {
				pending++
			}
		}
		if pending == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d instances are not enforced yet after %s; see the agent logs in %s", pending, timeout, lab.DefaultStateDir)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Down stops the lab's processes and removes its namespaces and files.
func Down(name string, ctl *Control) error {
	if err := lab.CheckName(name); err != nil {
		return err // before any file: the name makes globs
	}
	waitExited(stopProcesses(ctl.Pids, lab.DefaultStateDir, name), 5*time.Second)
	err := lab.Remove(name)
	removeFiles(lab.DefaultStateDir, name)
	removeStore(lab.DefaultStateDir, name)
	return err
}

// removeFiles removes the files of lab name in dir but its store: its
// control and state, its server's and agents' logs, its agents' flow-log
// state files.
func removeFiles(dir, name string) {
	files := []string{filepath.Join(dir, name+".ctl"), lab.StatePath(dir, name)}
	for _, pattern := range []string{name + "-server.log", name + "-agent-*.log", name + "-flowlog-*.state"} {
		m, _ := filepath.Glob(filepath.Join(dir, pattern))
		files = append(files, m...)
	}
	for _, f := range files {
		os.Remove(f)
	}
}

// removeStore removes the store of lab name in dir: NAME.db and every
// file and folder beside it (its WAL, its event trail, NAME.db.flows with
// the flow records, its lock and server ID).
func removeStore(dir, name string) {
	m, _ := filepath.Glob(filepath.Join(dir, name+".db*"))
	for _, f := range m {
		os.RemoveAll(f)
	}
}

// stopProcesses sends SIGTERM to those of pids that are still lab name's
// processes, and returns them: a process whose command line names the
// lab's store in dir (its server) or its hosts' namespaces (its agents).
// A pid the control file lists may belong to another process by now: the
// lab's exited (killed, or the machine restarted) and the pid was reused.
func stopProcesses(pids []int, dir, name string) []int {
	var stopped []int
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil || !labProcess(strings.Split(string(b), "\x00"), dir, name) {
			continue
		}
		if syscall.Kill(pid, syscall.SIGTERM) == nil {
			stopped = append(stopped, pid)
		}
	}
	return stopped
}

// labProcess reports whether a command line is of lab name's server or
// agents.
func labProcess(args []string, dir, name string) bool {
	db, ns := filepath.Join(dir, name+".db"), lab.HostNetnsPrefix(name)
	for _, a := range args {
		if a == db || strings.HasPrefix(a, ns) {
			return true
		}
	}
	return false
}

// waitExited waits until none of the processes exists any more (the agents
// let go of their namespaces), or until timeout: a process that ignores
// SIGTERM does not keep the lab up.
func waitExited(pids []int, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for _, pid := range pids {
		for syscall.Kill(pid, 0) == nil && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
	}
}
