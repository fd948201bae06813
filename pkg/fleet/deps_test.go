package fleet_test

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const modPrefix = "github.com/ml-connector/ml-connector/pkg/"

// servicePackages maps each service binary (services/<dir>) to its own
// package. Every other service package, and the dev/test tooling, must stay
// out of its image.
var servicePackages = map[string]string{
	"ingest":              "ingest",
	"transform":           "transform",
	"netsuite-writer":     "writer",
	"inventory-publisher": "inventory",
	"audit-mirror":        "auditmirror",
}

// forbiddenIn is what no service binary may link besides other services.
var forbiddenIn = []string{"fleet", "devstack", "sim/", "servicetest", "natstest", "chtest", "chserver", "bench"}

func TestServiceBinariesLinkOnlyTheirOwnService(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	for dir, own := range servicePackages {
		cmd := exec.Command("go", "list", "-deps", "./")
		cmd.Dir = filepath.Join("..", "..", "services", dir)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps in services/%s: %v\n%s", dir, err, out)
		}
		deps := strings.Fields(string(out))
		var linksOwn bool
		for _, d := range deps {
			rel, ok := strings.CutPrefix(d, modPrefix)
			if !ok {
				continue
			}
			if rel == own {
				linksOwn = true
				continue
			}
			for _, other := range servicePackages {
				if rel == other || strings.HasPrefix(rel, other+"/") && other != own {
					t.Errorf("services/%s links another service's package %s", dir, d)
				}
			}
			for _, f := range forbiddenIn {
				if rel == strings.TrimSuffix(f, "/") || strings.HasPrefix(rel, f) {
					t.Errorf("services/%s links dev/test tooling %s", dir, d)
				}
			}
		}
		if !linksOwn {
			t.Errorf("services/%s does not link its own package pkg/%s", dir, own)
		}
	}
}
