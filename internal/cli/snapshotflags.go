package cli

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/casebook-dev/casebook/internal/snapshot"
)

// addSnapshotLimitFlags adds the flags that bound reading a snapshot, with
// snapshot.DefaultLimits as defaults: generous for a workstation, and there
// so that a small archive cannot unpack into all of its memory.
func addSnapshotLimitFlags(cmd *cobra.Command, l *snapshot.Limits) {
	d := snapshot.DefaultLimits
	*l = d
	fs := cmd.Flags()
	fs.Var((*byteFlag)(&l.MaxUnpackedBytes), "max-unpacked-bytes", "refuse a snapshot whose files (unpacked, for a .tar.gz) hold more than `SIZE` (e.g. 8Gi)")
	fs.Var((*byteFlag)(&l.MaxFileBytes), "max-file-bytes", "refuse a snapshot with one file larger than `SIZE`")
	fs.Var((*byteFlag)(&l.MaxDecodedBytes), "max-decoded-bytes", "refuse a snapshot whose objects would take more than about `SIZE` of memory")
	fs.IntVar(&l.MaxFiles, "max-files", d.MaxFiles, "refuse a snapshot of more than `N` files (archive entries)")
	fs.IntVar(&l.MaxObjects, "max-objects", d.MaxObjects, "refuse a snapshot of more than `N` objects")
	fs.IntVar(&l.MaxObjectsPerKind, "max-objects-per-kind", d.MaxObjectsPerKind, "refuse a snapshot of more than `N` objects of one kind")
}

// byteFlag is a size flag that takes Kubernetes quantities: 512Mi, 4Gi,
// 1G, or a number of bytes.
type byteFlag int64

func (b *byteFlag) String() string {
	return resource.NewQuantity(int64(*b), resource.BinarySI).String()
}

func (b *byteFlag) Set(s string) error {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		*b = byteFlag(n)
		return nil
	}
	q, err := resource.ParseQuantity(s)
	if err != nil {
		return fmt.Errorf("%q is not a size (want bytes, or a quantity such as 512Mi or 4Gi)", s)
	}
	n, ok := q.AsInt64()
	if !ok || n < 0 {
		return errors.New("size out of range")
	}
	*b = byteFlag(n)
	return nil
}

func (b *byteFlag) Type() string { return "size" }
