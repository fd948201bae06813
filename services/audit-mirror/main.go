// Command audit-mirror is the ml-connector audit-mirror service. It only wires: the
// service itself lives in pkg/ (see pkg/fleet).
package main

import (
	"context"
	"os"

	"github.com/ml-connector/ml-connector/pkg/fleet"
	"github.com/ml-connector/ml-connector/pkg/service"
)

func main() { service.Main(fleet.AuditMirror, run) }

func run(ctx context.Context) error {
	svc, err := fleet.Lookup(fleet.AuditMirror)
	if err != nil {
		return err
	}
	return svc.Run(ctx, service.Environ(), os.Stdout)
}
