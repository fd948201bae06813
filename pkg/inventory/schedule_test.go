package inventory_test

import (
	"testing"

	"github.com/ml-connector/ml-connector/pkg/inventory"
	"github.com/ml-connector/ml-connector/pkg/servicetest"
	"github.com/ml-connector/ml-connector/pkg/sim/netsuitesim"
)

// A failed scheduled run is retried no later than the schedule's next run:
// with "@every 1s" a NetSuite hiccup delays the next sync by about a
// second, not by the one-minute back-off meant for long schedules.
func TestFailedRunRetriedWithinTheSchedule(t *testing.T) {
	cfg := inventory.DefaultSettings()
	cfg.Schedule = "@every 1s"
	e := newEnv(t, envOptions{settings: cfg, environ: map[string]string{"MLC_INVENTORY_SCHEDULE": "true", "MLC_INVENTORY_SCHEDULE_CHECK": "100ms"}})
	e.waitOutcomes(t, 10)
	e.NetSuite.FailNext("query/v1/suiteql", 1, netsuitesim.Fault500)
	servicetest.WaitFor(t, "a failed scheduled run", func() bool {
		return e.svc.Metric(t, `mlc_inventory_runs_total{origin="schedule",outcome="error"}`) != ""
	})
	e.NetSuite.SetPrice("104", "1", "1", dec("47"))
	servicetest.WaitFor(t, "the next scheduled run to write the new price", func() bool {
		p, _ := e.Commerce.ProductPrice("WB04", 1)
		return p.Equal(dec("47"))
	})
}
