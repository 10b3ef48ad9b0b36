package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/palisade-sg/palisade/internal/core/model"
)

// config is the audit's configuration file (YAML, or JSON, which YAML
// reads): Options under the names users write. Every field is optional;
// what is left out keeps its default.
type config struct {
	AllowedPorts   *[]uint16         `json:"allowedPorts,omitempty" yaml:"allowedPorts"` // [] allows none
	MaxRules       int               `json:"maxRules,omitempty" yaml:"maxRules"`
	Skip           []string          `json:"skip,omitempty" yaml:"skip"`
	ProdValues     *[]string         `json:"prodValues,omitempty" yaml:"prodValues"`     // [] means none is production
	RequiredTags   *[]string         `json:"requiredTags,omitempty" yaml:"requiredTags"` // [] requires none
	NamePattern    string            `json:"namePattern,omitempty" yaml:"namePattern"`
	MaxPortRange   int               `json:"maxPortRange,omitempty" yaml:"maxPortRange"`
	EnterpriseTags map[string]string `json:"enterpriseTags,omitempty" yaml:"enterpriseTags"`
	EnterpriseVPCs []string          `json:"enterpriseVpcs,omitempty" yaml:"enterpriseVpcs"`
	UnusedRuleDays int               `json:"unusedRuleDays,omitempty" yaml:"unusedRuleDays"`
}

// ParseConfig reads an audit configuration (YAML or JSON), for example
//
//	skip: [SGA-018]
//	prodValues: [prod, live]
//	requiredTags: [owner, env]
//	namePattern: '^[a-z]+(-[a-z0-9]+)+$'
//	maxPortRange: 10
//	enterpriseTags: {env: prod}
//	enterpriseVpcs: [vpc-bp1prod]
func ParseConfig(data []byte) (Options, error) {
	var c config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		msg := strings.NewReplacer("yaml: unmarshal errors:\n", "", "\n  ", "; ", "\n", "; ", " in type audit.config", "").Replace(err.Error())
		return Options{}, fmt.Errorf("audit configuration: %s (fields: allowedPorts, maxRules, skip, prodValues, requiredTags, namePattern, maxPortRange, enterpriseTags, enterpriseVpcs, unusedRuleDays)", strings.TrimSpace(msg))
	}
	o := Options{MaxRules: c.MaxRules, Skip: c.Skip,
		NamePattern: c.NamePattern, MaxPortRange: c.MaxPortRange, EnterpriseVPCs: c.EnterpriseVPCs, UnusedRuleDays: c.UnusedRuleDays}
	if c.AllowedPorts != nil {
		o.AllowedPorts = append([]uint16{}, *c.AllowedPorts...)
	}
	if c.ProdValues != nil {
		o.ProdValues = append([]string{}, *c.ProdValues...)
	}
	if c.RequiredTags != nil {
		o.RequiredTags = append([]string{}, *c.RequiredTags...)
	}
	keys := make([]string, 0, len(c.EnterpriseTags))
	for k := range c.EnterpriseTags {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		o.EnterpriseTags = append(o.EnterpriseTags, model.Tag{Key: k, Value: c.EnterpriseTags[k]})
	}
	if err := o.Validate(); err != nil {
		return Options{}, fmt.Errorf("audit configuration: %w", err)
	}
	return o, nil
}

// ConfigJSON writes options in the configuration's form, for
// ParseConfig at the other end (the PalisadeAudit action's Config).
func ConfigJSON(o Options) string {
	c := config{MaxRules: o.MaxRules, Skip: o.Skip,
		NamePattern: o.NamePattern, MaxPortRange: o.MaxPortRange, EnterpriseVPCs: o.EnterpriseVPCs, UnusedRuleDays: o.UnusedRuleDays}
	// An empty list is not a missing one (the default): pointers keep it.
	if o.AllowedPorts != nil {
		c.AllowedPorts = &o.AllowedPorts
	}
	if o.ProdValues != nil {
		c.ProdValues = &o.ProdValues
	}
	if o.RequiredTags != nil {
		c.RequiredTags = &o.RequiredTags
	}
	if len(o.EnterpriseTags) > 0 {
		c.EnterpriseTags = map[string]string{}
		for _, t := range o.EnterpriseTags {
			c.EnterpriseTags[t.Key] = t.Value
		}
	}
	b, _ := json.Marshal(c)
	return string(b)
}

// ParseSkip reads a comma-separated list of check IDs (the --skip flag).
func ParseSkip(s string) []string {
	var out []string
	for _, id := range strings.Split(s, ",") {
		if id = strings.ToUpper(strings.TrimSpace(id)); id != "" {
			out = append(out, id)
		}
	}
	return out
}
