// Command kval validates Kubernetes YAML files the way kube-apiserver v1.34
// does on create, without a server (see package kval). It prints one line per
// object, "OK kind/name" or "REJECTED kind/name: error", and exits 1 if any
// object was rejected, 2 on usage or read errors.
//
//	go run ./cmd/kval FILE...
package main

import (
	"fmt"
	"os"

	"github.com/berth-sh/berth/test/k8s/kval"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(files []string) int {
	if len(files) == 0 || files[0] == "-h" || files[0] == "--help" {
		fmt.Fprintln(os.Stderr, "usage: kval FILE...")
		return 2
	}
	code := 0
	for _, f := range files {
		res, err := kval.ValidateFile(f)
		if err != nil {
			fmt.Fprintf(os.Stderr, "kval: %v\n", err)
			code = 2
			continue
		}
		if len(res) == 0 {
			fmt.Fprintf(os.Stderr, "kval: %s: no objects\n", f)
			code = 2
			continue
		}
		for _, r := range res {
			line := r.String()
			if len(files) > 1 {
				line = f + ": " + line
			}
			fmt.Println(line)
			if !r.OK() && code == 0 {
				code = 1
			}
		}
	}
	return code
}
