package lab

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
)

// Lab is a lab that is up (or was, until Down). Its JSON form is the state
// file that lets a later process find it.
type Lab struct {
	Spec       Spec              `json:"spec"`
	Interfaces map[string]string `json:"interfaces"` // instance ID → host-side interface

	byID      map[string]*Instance
	stateFile string // where Save wrote (or Load read) the state; Down removes it
}

func newLab(s Spec) *Lab {
	ids := make([]string, len(s.Instances))
	for i, in := range s.Instances {
		ids[i] = in.ID
	}
	l := &Lab{Spec: s, Interfaces: ifaceNames(ids)}
	l.index()
	return l
}

func (l *Lab) index() {
	l.byID = make(map[string]*Instance, len(l.Spec.Instances))
	for i := range l.Spec.Instances {
		l.byID[l.Spec.Instances[i].ID] = &l.Spec.Instances[i]
	}
}

// Name is the lab's name.
func (l *Lab) Name() string { return l.Spec.Name }

// HostNetns is the namespace where the host's agent programs nftables ("" if
// there is no such host).
func (l *Lab) HostNetns(host string) string {
	if !slices.Contains(l.Spec.Hosts, host) {
		return ""
	}
	return hostNs(l.Spec.Name, host)
}

// InstanceNetns is the namespace of an instance ("" if there is no such instance).
func (l *Lab) InstanceNetns(id string) string {
	in, ok := l.byID[id]
	if !ok {
		return ""
	}
	return instanceNs(l.Spec.Name, netnsID(in)) // a secondary ENI's is its instance's
}

// InternetNetns is the namespace that holds the outside and public addresses.
func (l *Lab) InternetNetns() string { return internetNs(l.Spec.Name) }

// Interface is the host-side interface of an instance, e.g. "pi-web1"
// ("" if there is no such instance).
func (l *Lab) Interface(id string) string { return l.Interfaces[id] }

// Instance returns an instance of the lab.
func (l *Lab) Instance(id string) (Instance, bool) {
	in, ok := l.byID[id]
	if !ok {
		return Instance{}, false
	}
	return *in, true
}

// Namespaces lists every namespace of the lab.
func (l *Lab) Namespaces() []string {
	n := l.Spec.Name
	out := []string{fabricNs(n), internetNs(n)}
	for _, h := range l.Spec.Hosts {
		out = append(out, hostNs(n, h))
	}
	for _, in := range l.Spec.Instances {
		if in.NICOf == "" { // a secondary ENI lives in its instance's
			out = append(out, instanceNs(n, in.ID))
		}
	}
	return out
}

// DefaultStateDir is where the CLI keeps lab state files.
const DefaultStateDir = "/run/palisade/lab"

// StatePath is the state file of a lab in a directory.
func StatePath(dir, name string) string { return filepath.Join(dir, name+".json") }

// Save writes the lab's state to <dir>/<name>.json.
func (l *Lab) Save(dir string) error {
	data, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("save lab %s: %w", l.Spec.Name, err)
	}
	p := StatePath(dir, l.Spec.Name)
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("save lab %s: %w", l.Spec.Name, err)
	}
	if err := os.Rename(tmp, p); err != nil {
		return fmt.Errorf("save lab %s: %w", l.Spec.Name, err)
	}
	l.stateFile = p
	return nil
}

// Load reads the state of a lab saved in dir.
func Load(dir, name string) (*Lab, error) {
	p := StatePath(dir, name)
	data, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("no lab %q: %s does not exist (is it up? see `ip netns list | grep pl-%s-`)", name, p, name)
	}
	if err != nil {
		return nil, err
	}
	var l Lab
	if err := json.Unmarshal(data, &l); err != nil {
		return nil, fmt.Errorf("lab state %s: %w; remove the file and the lab's namespaces (pl-%s-…)", p, err, name)
	}
	if err := l.Spec.Validate(); err != nil {
		return nil, fmt.Errorf("lab state %s: %w", p, err)
	}
	l.index()
	for _, in := range l.Spec.Instances {
		if l.Interfaces[in.ID] == "" {
			return nil, fmt.Errorf("lab state %s: no interface for %s", p, in.ID)
		}
	}
	l.stateFile = p
	return &l, nil
}
