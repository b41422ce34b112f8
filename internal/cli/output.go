package cli

import (
	"fmt"

	"github.com/spf13/pflag"
)

// Output is the -o/--output flag: how a command prints its answer. One flag
// on the root instead of one --json per command, so scripts learn it once.
type Output struct {
	format string
}

// Output formats.
const (
	FormatTable = "table"
	FormatJSON  = "json"
)

// AddFlags registers -o/--output and --json, an alias for -o json kept for
// scripts written before -o existed.
func (o *Output) AddFlags(fs *pflag.FlagSet) {
	fs.StringVarP(&o.format, "output", "o", FormatTable, "output format: table (for people) or json (one JSON document, or one per line for streams)")
	f := fs.VarPF(jsonAlias{o}, "json", "", "same as -o json")
	f.NoOptDefVal = "true"
}

// Validate checks the format before anything connects.
func (o *Output) Validate() error {
	if o.format != FormatTable && o.format != FormatJSON {
		return Usage(fmt.Errorf("--output %q: want table or json", o.format))
	}
	return nil
}

// JSON reports whether output is JSON.
func (o *Output) JSON() bool { return o.format == FormatJSON }

// jsonAlias is --json: a boolean flag that sets the format.
type jsonAlias struct{ o *Output }

func (j jsonAlias) String() string {
	if j.o == nil {
		return "false"
	}
	return fmt.Sprint(j.o.format == FormatJSON)
}

func (j jsonAlias) Set(v string) error {
	switch v {
	case "true", "1":
		j.o.format = FormatJSON
	case "false", "0":
		if j.o.format == FormatJSON {
			j.o.format = FormatTable
		}
	default:
		return fmt.Errorf("want true or false")
	}
	return nil
}

func (jsonAlias) Type() string { return "bool" }
