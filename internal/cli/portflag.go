package cli

import (
	"errors"
	"flag"
	"strconv"

	"github.com/palisade-sg/palisade/internal/core/model"
)

// portValue is a port flag read in decimal, as the API reads a port:
// flag.Int reads 022 as octal (port 18) and 0x16 as 22.
type portValue int

func (p *portValue) String() string { return strconv.Itoa(int(*p)) }

func (p *portValue) Set(s string) error {
	n, ok := model.ParseCanonicalInt(s, 0, 65535)
	if !ok {
		return errors.New("give a port from 1 to 65535 in decimal (or 0 for none)")
	}
	*p = portValue(n)
	return nil
}

// portFlag defines a port flag of fs (0 when not given).
func portFlag(fs *flag.FlagSet, name, usage string) *int {
	p := new(portValue)
	fs.Var(p, name, usage)
	return (*int)(p)
}
