package lab

import (
	"errors"
	"fmt"
	"os"
)

// Down removes every namespace of the lab, and its state file if it was
// saved or loaded. It is idempotent.
func (l *Lab) Down() error {
	err := Remove(l.Spec.Name)
	if l.stateFile != "" {
		if rerr := os.Remove(l.stateFile); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			err = errors.Join(err, rerr)
		}
	}
	return err
}

// Remove deletes every namespace of the named lab (pl-<name>-…), whatever
// state it is in: it also cleans up after a crashed Up. Processes still
// running in them keep the kernel's namespaces alive but nameless.
func Remove(name string) error {
	if err := CheckName(name); err != nil {
		return err
	}
	names, err := listNetns(nsPrefix(name))
	if err != nil {
		return err
	}
	var errs []error
	for _, ns := range names {
		if err := deleteNetns(ns); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("lab %s: %w", name, errors.Join(errs...))
	}
	return nil
}
