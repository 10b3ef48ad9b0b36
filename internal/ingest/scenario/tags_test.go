package scenario_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/ingest/scenario"
)

const tagged = `vpcs:
  - {vpcId: vpc-a, cidrBlock: 10.0.0.0/16, tags: {env: prod, owner: net-team}}
securityGroups:
  - securityGroupId: sg-a
    vpcId: vpc-a
    tags:
      env: prod
      app: shop
      empty:
instances:
  - {instanceId: i-a, vpcId: vpc-a, privateIpAddress: 10.0.0.1, securityGroupIds: [sg-a], tags: {env: prod, owner: web-team}}
`

func TestTags(t *testing.T) {
	s, err := scenario.Parse("tags.yaml", []byte(tagged))
	if err != nil {
		t.Fatal(err)
	}
	tags := func(kv ...string) []model.Tag {
		var out []model.Tag
		for i := 0; i < len(kv); i += 2 {
			out = append(out, model.Tag{Key: kv[i], Value: kv[i+1]})
		}
		return out
	}
	for _, c := range []struct {
		what      string
		got, want []model.Tag
	}{
		{"VPC", s.VPCs[0].Tags, tags("env", "prod", "owner", "net-team")},
		{"group", s.Groups[0].Tags, tags("env", "prod", "app", "shop", "empty", "")},
		{"instance", s.Instances[0].Tags, tags("env", "prod", "owner", "web-team")},
	} {
		if !slices.Equal(c.got, c.want) {
			t.Errorf("%s tags %v, want %v", c.what, c.got, c.want)
		}
	}
}

func TestInvalidTags(t *testing.T) {
	tests := []struct {
		name, old, new string
		line           int
		msg            string
	}{
		{"reserved aliyun key", "      app: shop", "      aliyun-app: shop", 8, "InvalidTagKey.Malformed"},
		{"URL in a value", "      app: shop", "      app: http://shop", 8, "InvalidTagValue.Malformed"},
		{"apply's marker", "owner: web-team}", "palisade:id: x}", 11, "reserved"},
		{"repeated key", "owner: net-team}", "env: test}", 2, "Duplicate.TagKey"},
		{"not a mapping", "    tags:\n      env: prod\n      app: shop\n      empty:\n", "    tags: [env, prod]\n", 6, "mapping"},
		{"a list as a value", "      app: shop", "      app: [shop]", 8, "single value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(tagged, tt.old) {
				t.Fatalf("test edits nothing: %q", tt.old)
			}
			_, err := scenario.Parse("bad.yaml", []byte(strings.Replace(tagged, tt.old, tt.new, 1)))
			var e *scenario.Error
			if !errors.As(err, &e) {
				t.Fatalf("got %v, want a scenario.Error", err)
			}
			if e.Line != tt.line || e.Field != "tags" || !strings.Contains(e.Msg, tt.msg) {
				t.Errorf("got %s (line %d field %q), want line %d field tags, mentioning %q", e, e.Line, e.Field, tt.line, tt.msg)
			}
		})
	}
}
