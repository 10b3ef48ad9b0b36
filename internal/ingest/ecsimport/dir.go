package ecsimport

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// FromDir imports the ECS responses saved as files in dir (not in its
// subfolders), whatever their names: each file's kind is told by its
// content. It reads DescribeSecurityGroups, DescribeSecurityGroupAttribute
// (one or more files per group; ECS gives the direction of each rule),
// DescribeInstances and, optionally, DescribePrefixLists and
// DescribePrefixListAttributes, in as many pages as were saved. A file may
// hold one response, several concatenated, or a JSON array of them, as the
// API or the aliyun CLI prints them. Pages are not checked for gaps: the
// import holds what was saved.
//
// A .json file that is not valid JSON is an error; other files that are
// not ECS responses are skipped with a warning.
func FromDir(dir string) (*Account, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read the folder of saved ECS responses: %w", err)
	}
	b := newBuilder("")
	for _, e := range entries {
		if e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		name := e.Name()
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("read saved ECS response: %w", err)
		}
		values, err := splitJSON(data)
		switch {
		case err != nil && strings.EqualFold(filepath.Ext(name), ".json"):
			return nil, fmt.Errorf("%s is not valid JSON (%v): save the response again, for example `aliyun ecs DescribeSecurityGroups --RegionId cn-hangzhou > %s`", filepath.Join(dir, name), err, name)
		case err != nil:
			b.warn(name, "", "", "not JSON; skipped")
			continue
		case len(values) == 0:
			b.warn(name, "", "", "the file is empty; skipped")
		}
		for i, v := range values {
			src := name
			if len(values) > 1 {
				src = fmt.Sprintf("%s[%d]", name, i+1)
			}
			if err := b.add(src, v); err != nil {
				return nil, err
			}
		}
	}
	if len(b.groups) == 0 && len(b.insts) == 0 {
		return nil, fmt.Errorf("%s holds no DescribeSecurityGroups, DescribeSecurityGroupAttribute or DescribeInstances response: save them there as JSON files, for example `aliyun ecs DescribeSecurityGroups --RegionId cn-hangzhou > groups.json`", dir)
	}
	return b.finish(), nil
}
