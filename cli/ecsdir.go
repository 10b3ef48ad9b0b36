package cli

import (
	"errors"

	"github.com/palisade-sg/palisade/policy"
)

// loadECSDir reads a folder of saved ECS responses.
func loadECSDir(dir string) (*policy.Cloud, error) {
	return nil, errors.New("--ecs-dir: not available yet")
}
