//go:build !linux

package hostcheck

import (
	"context"
	"fmt"
	goruntime "runtime"
)

// Run reports every check as failed: berth's containers need Linux.
func Run(ctx context.Context, o Options) []Result {
	out := make([]Result, 0, len(Names))
	for _, name := range Names {
		out = append(out, Result{
			Name:   name,
			Detail: fmt.Sprintf("not supported on %s", goruntime.GOOS),
			Fix:    "run berth on Linux",
		})
	}
	return out
}
