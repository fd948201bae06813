package fleet

import (
	"context"
	"io"

	"github.com/ml-connector/ml-connector/pkg/service"
)

func runIngest(ctx context.Context, environ map[string]string, logOut io.Writer) error {
	base, err := service.LoadConfig[service.Base](environ)
	if err != nil {
		return err
	}
	rt, err := service.Start(ctx, service.Spec{Name: Ingest, Streams: []string{"COMMERCE"}, Buckets: []string{"mlc_checkpoints", "mlc_credentials"}}, base, logOut)
	if err != nil {
		return err
	}
	return rt.Serve(ctx)
}
