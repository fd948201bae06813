package deploycheck

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"

	"github.com/ml-connector/ml-connector/pkg/fleet"
)

// dockerfile is one parsed Dockerfile: BuildKit's own parser, so a syntax
// error or an unknown instruction fails here as it would in docker build.
type dockerfile struct {
	stages []instructions.Stage
	args   []instructions.ArgCommand
}

func parseDockerfile(t *testing.T, path string) dockerfile {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	res, err := parser.Parse(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	stages, args, err := instructions.Parse(res.AST, nil)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return dockerfile{stages: stages, args: args}
}

// TestDockerfiles checks the images' shape (multi-stage, static binary on
// distroless as a non-root user, a health check on /healthz) and then
// builds every service from a copy of only what the Dockerfile copies: no
// Docker engine here, but a COPY that misses a directory fails the same.
func TestDockerfiles(t *testing.T) {
	svc := parseDockerfile(t, repo(t, "deploy", "Dockerfile"))
	checkFinalStage(t, "Dockerfile", svc, true)
	cli := parseDockerfile(t, repo(t, "deploy", "Dockerfile.mlc"))
	checkFinalStage(t, "Dockerfile.mlc", cli, false)

	for _, s := range fleet.All() {
		name := s.Spec.Name
		t.Run(name, func(t *testing.T) {
			ctx := buildContext(t, svc.stages[0], map[string]string{"SERVICE": name})
			goBuild(t, filepath.Join(ctx, "services", name))
			goBuild(t, filepath.Join(ctx, "deploy", "healthcheck"))
		})
	}
	t.Run("mlc", func(t *testing.T) {
		ctx := buildContext(t, cli.stages[0], nil)
		goBuild(t, filepath.Join(ctx, "cmd", "mlc"))
	})
	// Every directory of services/ is a service the fleet knows (and so
	// one compose and Kubernetes deploy).
	entries, err := os.ReadDir(repo(t, "services"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range fleet.All() {
		names = append(names, s.Spec.Name)
	}
	for _, e := range entries {
		if e.IsDir() && !slices.Contains(names, e.Name()) {
			t.Errorf("services/%s is not a service of pkg/fleet", e.Name())
		}
	}
}

func checkFinalStage(t *testing.T, file string, d dockerfile, service bool) {
	t.Helper()
	if len(d.stages) < 2 {
		t.Fatalf("%s: %d stages; want a build stage and a runtime stage", file, len(d.stages))
	}
	final := d.stages[len(d.stages)-1]
	if !strings.HasPrefix(final.BaseName, "gcr.io/distroless/static") || !strings.HasSuffix(final.BaseName, ":nonroot") {
		t.Errorf("%s: runtime image %s; want distroless static, nonroot", file, final.BaseName)
	}
	var user, entry, health string
	for _, c := range final.Commands {
		switch c := c.(type) {
		case *instructions.UserCommand:
			user = c.User
		case *instructions.EntrypointCommand:
			entry = strings.Join(c.CmdLine, " ")
		case *instructions.HealthCheckCommand:
			health = strings.Join(c.Health.Test, " ")
		case *instructions.EnvCommand:
			for _, kv := range c.Env {
				if strings.Contains(kv.Key, "KEY") || strings.Contains(kv.Key, "SECRET") || strings.Contains(kv.Key, "PASSWORD") {
					t.Errorf("%s: secret-looking ENV %s baked into the image", file, kv.Key)
				}
			}
		}
	}
	if !strings.HasPrefix(user, "nonroot") {
		t.Errorf("%s: USER %q; want nonroot", file, user)
	}
	if entry == "" {
		t.Errorf("%s: no ENTRYPOINT", file)
	}
	if service && health != "CMD /healthcheck /healthz" {
		t.Errorf("%s: HEALTHCHECK %q; want the /healthcheck binary on /healthz", file, health)
	}
}

// buildContext copies into a temporary directory just the paths the build
// stage COPYs from the repository root, with build arguments expanded.
func buildContext(t *testing.T, build instructions.Stage, args map[string]string) string {
	t.Helper()
	dst := t.TempDir()
	expand := func(s string) string {
		return os.Expand(s, func(k string) string {
			v, ok := args[k]
			if !ok {
				t.Fatalf("COPY %s: unknown build argument %s", s, k)
			}
			return v
		})
	}
	copies := 0
	for _, c := range build.Commands {
		cp, ok := c.(*instructions.CopyCommand)
		if !ok || cp.From != "" {
			continue
		}
		for _, src := range cp.SourcePaths {
			src = expand(src)
			from := repo(t, filepath.FromSlash(src))
			if _, err := os.Stat(from); err != nil {
				t.Fatalf("COPY %s: %v", src, err)
			}
			to := filepath.Join(dst, filepath.FromSlash(strings.TrimSuffix(src, "/")))
			if fi, err := os.Stat(from); err == nil && fi.IsDir() {
				// COPY dir/ dir/ copies the contents, onto what is there.
				if err := os.MkdirAll(to, 0o755); err != nil {
					t.Fatal(err)
				}
				from += string(filepath.Separator) + "."
			} else if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command("cp", "-R", from, to).CombinedOutput(); err != nil {
				t.Fatalf("copy %s: %v %s", src, err, out)
			}
			copies++
		}
	}
	if copies == 0 {
		t.Fatal("the build stage copies nothing")
	}
	return dst
}

// goBuild checks that dir builds as the Dockerfile builds it (GOWORK=off,
// the go.sum as it is: a missing entry fails the image build too). It
// loads every package and embedded file with go list rather than
// compiling: a file the context lacks fails the same, in a fraction of
// the time.
func goBuild(t *testing.T, dir string) {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-f", "{{if .Error}}{{.ImportPath}}: {{.Error}}{{end}}{{range .DepsErrors}}{{.}}{{end}}", ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "CGO_ENABLED=0", "GOFLAGS=-mod=readonly -buildvcs=false")
	out, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("go build in %s would fail: %v\n%s", dir, err, out)
	}
}
