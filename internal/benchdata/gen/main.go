// Command gen writes the benchmark cluster as a snapshot directory, for
// measuring `casebook diagnose --snapshot` as a whole process:
//
//	go run ./internal/benchdata/gen /tmp/bench-snapshot
//	/usr/bin/time -v casebook diagnose --snapshot /tmp/bench-snapshot -o json > /dev/null
package main

import (
	"fmt"
	"os"

	"github.com/casebook-dev/casebook/internal/benchdata"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: gen DIR")
		os.Exit(2)
	}
	if err := benchdata.Generate(benchdata.Default).WriteDump(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
