package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"

	"github.com/palisade-sg/palisade/internal/ingest/ecsimport"
)

// loadECSDir reads a folder of saved ECS responses (DescribeSecurityGroups,
// DescribeSecurityGroupAttribute, DescribeInstances, as ECS or the aliyun
// CLI return them).
func loadECSDir(dir string, stderr io.Writer) (*ecsimport.Account, error) {
	acct, err := ecsimport.FromDir(dir)
	if err != nil {
		return nil, err
	}
	warn(stderr, acct)
	return acct, nil
}

// loadECSLive reads an account from a real ECS endpoint with the user's key
// (ALIBABA_CLOUD_ACCESS_KEY_ID / _SECRET) through the official SDK.
func loadECSLive(region, endpoint string, stderr io.Writer) (*ecsimport.Account, error) {
	id, secret := os.Getenv("ALIBABA_CLOUD_ACCESS_KEY_ID"), os.Getenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET")
	if id == "" || secret == "" {
		return nil, fmt.Errorf("--ecs-region needs ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET (a key with read access to ECS)")
	}
	c, err := ecs.NewClientWithAccessKey(region, id, secret)
	if err != nil {
		return nil, err
	}
	if endpoint != "" {
		scheme, host, err := parseEndpoint(endpoint)
		if err != nil {
			return nil, err
		}
		c.Domain = host
		c.GetConfig().Scheme = scheme
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	acct, err := ecsimport.FromECS(ctx, c, region)
	if err != nil {
		return nil, err
	}
	warn(stderr, acct)
	return acct, nil
}

func warn(stderr io.Writer, acct *ecsimport.Account) {
	for _, w := range acct.Warnings {
		fmt.Fprintf(stderr, "warning: %s: %s %s: %s\n", w.Source, w.Resource, w.RuleID, w.Message)
	}
}
