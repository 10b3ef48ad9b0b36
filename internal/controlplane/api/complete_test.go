package api

import (
	"reflect"
	"testing"

	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
)

// nilSlice returns the path of a nil slice reachable in v, or "".
func nilSlice(v reflect.Value, path string) string {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return ""
		}
		return nilSlice(v.Elem(), path)
	case reflect.Slice:
		if v.IsNil() {
			return path
		}
		for i := range v.Len() {
			if p := nilSlice(v.Index(i), path+"[]"); p != "" {
				return p
			}
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				if p := nilSlice(v.Field(i), path+"."+v.Type().Field(i).Name); p != "" {
					return p
				}
			}
		}
	}
	return ""
}

// TestCompleteResponses: the responses that skip the encoder's empty-slice
// pass (rpc.Complete) have no nil slice, with and without rules and tags.
func TestCompleteResponses(t *testing.T) {
	e := newEnv(t)
	empty := e.newGroup(nil)
	full := e.newGroup(nil)
	e.ecs("AuthorizeSecurityGroup", map[string]string{"SecurityGroupId": full, "IpProtocol": "tcp", "PortRange": "22/22", "SourceCidrIp": "10.0.0.0/8"})
	for _, c := range []struct {
		action string
		params map[string]string
	}{
		{"DescribeSecurityGroups", nil},
		{"DescribeSecurityGroupAttribute", map[string]string{"SecurityGroupId": empty}},
		{"DescribeSecurityGroupAttribute", map[string]string{"SecurityGroupId": full}},
	} {
		res := e.ecs(c.action, c.params)
		if _, ok := res.(rpc.Complete); !ok {
			t.Fatalf("%s: %T is not rpc.Complete", c.action, res)
		}
		if p := nilSlice(reflect.ValueOf(res), c.action); p != "" {
			t.Errorf("%s is nil: it would encode as null", p)
		}
	}
}
