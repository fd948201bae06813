// Command gen renders deploy/nats/accounts.conf from deploy/nats/permissions.json:
//
//	cd deploy && go generate ./natsauth
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/ml-connector/ml-connector/deploy/natsauth"
)

func main() {
	in := flag.String("in", "../nats/permissions.json", "the permissions file")
	out := flag.String("out", "../nats/accounts.conf", "the NATS accounts configuration to write")
	flag.Parse()
	if err := run(*in, *out); err != nil {
		fmt.Fprintln(os.Stderr, "natsauth:", err)
		os.Exit(1)
	}
}

func run(in, out string) error {
	p, err := natsauth.Load(in)
	if err != nil {
		return err
	}
	return os.WriteFile(out, p.Render(), 0o644)
}
