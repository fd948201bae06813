package deploycheck

import (
	"context"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/nats-io/nats-server/v2/server"

	"github.com/ml-connector/ml-connector/deploy/natsauth"
	"github.com/ml-connector/ml-connector/pkg/auditmirror"
	"github.com/ml-connector/ml-connector/pkg/fleet"
	"github.com/ml-connector/ml-connector/pkg/ingest"
	"github.com/ml-connector/ml-connector/pkg/inventory"
	"github.com/ml-connector/ml-connector/pkg/secrets"
	"github.com/ml-connector/ml-connector/pkg/service"
	"github.com/ml-connector/ml-connector/pkg/transform"
	"github.com/ml-connector/ml-connector/pkg/writer"
)

// serviceConfig is how a service reads its environment: the struct its
// Run loads and the package that declares it.
type serviceConfig struct {
	pkg  string // directory under pkg/
	zero any    // the config struct (its env tags are the names it reads)
	load func(map[string]string) error
}

func loader[T any](env map[string]string) error {
	_, err := service.LoadConfig[T](env)
	return err
}

// serviceConfigs maps each service to its configuration struct. A service
// whose package grows a Config of its own must be listed with it: the
// check in configFor fails until it is.
var serviceConfigs = map[string]serviceConfig{
	"ingest":              {"ingest", ingest.Config{}, loader[ingest.Config]},
	"transform":           {"transform", transform.Config{}, loader[transform.Config]},
	"netsuite-writer":     {"writer", writer.Config{}, loader[writer.Config]},
	"inventory-publisher": {"inventory", inventory.Config{}, loader[inventory.Config]},
	"audit-mirror":        {"auditmirror", auditmirror.Config{}, loader[auditmirror.Config]},
}

var configTypeRe = regexp.MustCompile(`(?m)^type Config struct`)

func configFor(t *testing.T, name string) serviceConfig {
	t.Helper()
	c, ok := serviceConfigs[name]
	if !ok {
		t.Fatalf("deploycheck does not know the configuration of %s: add it to serviceConfigs", name)
	}
	files, _ := filepath.Glob(repo(t, "pkg", c.pkg, "*.go"))
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if configTypeRe.Match(b) && reflect.TypeOf(c.zero) == reflect.TypeOf(service.Base{}) {
			t.Fatalf("pkg/%s declares a Config: list it for %s in serviceConfigs", c.pkg, name)
		}
	}
	return c
}

// envNames lists the variables a config struct reads (its env tags,
// nested structs and envPrefix included).
func envNames(v any) map[string]bool {
	out := map[string]bool{}
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for i := range t.NumField() {
			f := t.Field(i)
			if name, _, _ := strings.Cut(f.Tag.Get("env"), ","); name != "" {
				out[prefix+name] = true
				continue
			}
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				walk(ft, prefix+f.Tag.Get("envPrefix"))
			}
		}
	}
	walk(reflect.TypeOf(v), "")
	return out
}

// composeProject loads docker-compose.yml with compose-go, the library
// `docker compose` itself loads and validates it with, in a copy of the
// repository's deploy/ whose secrets come from scripts/gen-secrets.sh (as
// a platform engineer's would), every profile on.
func composeProject(t *testing.T) *types.Project {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("openssl is missing; scripts/gen-secrets.sh needs it")
		}
		t.Skip("openssl is missing; scripts/gen-secrets.sh needs it")
	}
	dir := t.TempDir()
	b, err := os.ReadFile(repo(t, "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "docker-compose.yml"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(repo(t, "deploy"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "deploy"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() == "secrets" {
			continue
		}
		if err := os.Symlink(repo(t, "deploy", e.Name()), filepath.Join(dir, "deploy", e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	gen := exec.Command(repo(t, "scripts", "gen-secrets.sh"), filepath.Join(dir, "deploy", "secrets"))
	if out, err := gen.CombinedOutput(); err != nil {
		t.Fatalf("gen-secrets.sh: %v\n%s", err, out)
	}
	opts, err := cli.NewProjectOptions([]string{filepath.Join(dir, "docker-compose.yml")},
		cli.WithWorkingDirectory(dir), cli.WithProfiles([]string{"*"}), cli.WithEnv(nil))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	p, err := opts.LoadProject(ctx)
	if err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	return p
}

func env(s types.ServiceConfig) map[string]string {
	out := map[string]string{}
	for k, v := range s.Environment {
		if v != nil {
			out[k] = *v
		}
	}
	return out
}

func secretNames(s types.ServiceConfig) []string {
	var out []string
	for _, r := range s.Secrets {
		out = append(out, r.Source)
	}
	return out
}

// TestCompose checks docker-compose.yml against the code: every service
// with its image and build, every variable it sets read by that service's
// configuration struct (and parsing there), the master key for exactly the
// services that decrypt credentials, each service its own NKey, published
// ports on loopback only, the NATS nodes from the shipped configuration,
// monitoring wired to the files it reads.
func TestCompose(t *testing.T) {
	p := composeProject(t)
	perms := loadPermissions(t)
	masterEnv := map[string]bool{secrets.EnvMasterKey: true, secrets.EnvMasterKeyFile: true, secrets.EnvPreviousKeys: true}
	secretFile := func(name string) string {
		s, ok := p.Secrets[name]
		if !ok {
			t.Fatalf("secret %s is not declared", name)
		}
		if _, err := os.Stat(s.File); err != nil {
			t.Errorf("secret %s: %v", name, err)
		}
		rel, _ := filepath.Rel(p.WorkingDir, s.File)
		return filepath.ToSlash(rel)
	}

	for _, svc := range fleet.All() {
		name := svc.Spec.Name
		t.Run(name, func(t *testing.T) {
			s, ok := p.Services[name]
			if !ok {
				t.Fatalf("no service %s", name)
			}
			cfg := configFor(t, name)
			perm, _ := perms.Service(name)
			if s.Build == nil || s.Build.Dockerfile != "deploy/Dockerfile" || s.Build.Args["SERVICE"] == nil || *s.Build.Args["SERVICE"] != name {
				t.Errorf("build %+v: want deploy/Dockerfile with SERVICE=%s", s.Build, name)
			}
			if s.Image != "ml-connector/"+name+":dev" {
				t.Errorf("image %q", s.Image)
			}
			e := env(s)
			known := envNames(cfg.zero)
			for k := range e {
				switch {
				case masterEnv[k]:
					if !perm.MasterKey {
						t.Errorf("%s gets %s but decrypts no credentials", name, k)
					}
				case !known[k]:
					t.Errorf("%s=%q is read by nothing in %T", k, e[k], cfg.zero)
				}
			}
			hasKey := e[secrets.EnvMasterKeyFile] != "" || e[secrets.EnvMasterKey] != ""
			if hasKey != perm.MasterKey || slices.Contains(secretNames(s), "master-key") != perm.MasterKey {
				t.Errorf("master key given %v (secret %v), permissions.json says %v", hasKey, secretNames(s), perm.MasterKey)
			}
			if perm.MasterKey && (e[secrets.EnvMasterKeyFile] != "/run/secrets/master-key" || secretFile("master-key") != "deploy/secrets/master.key") {
				t.Errorf("%s=%q", secrets.EnvMasterKeyFile, e[secrets.EnvMasterKeyFile])
			}
			// Its own NKey, and no other.
			nkey := "nkey-" + name
			if e["MLC_NATS_NKEY_FILE"] != "/run/secrets/"+nkey || secretFile(nkey) != "deploy/secrets/nkeys/"+name+".nk" {
				t.Errorf("MLC_NATS_NKEY_FILE %q, secret %s from %s", e["MLC_NATS_NKEY_FILE"], nkey, secretFile(nkey))
			}
			for _, sec := range secretNames(s) {
				if strings.HasPrefix(sec, "nkey-") && sec != nkey {
					t.Errorf("%s also gets %s", name, sec)
				}
			}
			if e["MLC_NATS_TLS_CA"] != "/run/secrets/nats-ca" || secretFile("nats-ca") != "deploy/secrets/tls/ca.pem" {
				t.Errorf("MLC_NATS_TLS_CA %q", e["MLC_NATS_TLS_CA"])
			}
			for _, u := range strings.Split(e["MLC_NATS_URL"], ",") {
				pu, err := url.Parse(u)
				if err != nil || pu.Scheme != "tls" || p.Services[pu.Hostname()].Image == "" || !strings.HasPrefix(pu.Hostname(), "nats-") {
					t.Errorf("MLC_NATS_URL entry %q: want tls:// to a NATS service", u)
				}
			}
			if e["MLC_PROVISION"] != "false" {
				t.Errorf("MLC_PROVISION=%q: the services' users may not change streams; mlc streams apply provisions", e["MLC_PROVISION"])
			}
			// The values parse as the service parses them (paths aside,
			// which exist only in the container).
			if err := cfg.load(e); err != nil {
				t.Errorf("the service would refuse this environment: %v", err)
			}
			grace, _ := time.ParseDuration(e["MLC_SHUTDOWN_TIMEOUT"])
			if s.StopGracePeriod == nil || time.Duration(*s.StopGracePeriod) <= grace {
				t.Errorf("stop_grace_period %v must exceed MLC_SHUTDOWN_TIMEOUT %v, or Docker kills in-flight work", s.StopGracePeriod, grace)
			}
			_, port, _ := net.SplitHostPort(e["MLC_HTTP_ADDR"])
			for _, pc := range s.Ports {
				if pc.HostIP != "127.0.0.1" {
					t.Errorf("port %s published on %q: loopback only (a proxy with TLS goes in front)", pc.Published, pc.HostIP)
				}
				if n, err := strconv.Atoi(port); err != nil || pc.Target != uint32(n) {
					t.Errorf("port target %d, the service listens on %q", pc.Target, e["MLC_HTTP_ADDR"])
				}
			}
			for _, dep := range []string{"nats-1", "nats-2", "nats-3"} {
				if d, ok := s.DependsOn[dep]; !ok || d.Condition != types.ServiceConditionHealthy {
					t.Errorf("does not wait for %s to be healthy", dep)
				}
			}
		})
	}
	for _, name := range []string{"transform", "netsuite-writer"} {
		if s := p.Services[name]; s.Deploy == nil || s.Deploy.Replicas == nil || *s.Deploy.Replicas != 2 {
			t.Errorf("%s: want two replicas (they share one durable consumer)", name)
		}
	}
	if dsn := env(p.Services["audit-mirror"])["MLC_CLICKHOUSE_DSN"]; !strings.HasPrefix(dsn, "clickhouse://mlc:") || !strings.Contains(dsn, "@clickhouse:9000/") {
		t.Errorf("audit-mirror MLC_CLICKHOUSE_DSN %q: want the mlc user at the clickhouse service", dsn)
	} else if pw := env(p.Services["clickhouse"])["CLICKHOUSE_PASSWORD"]; pw == "" || !strings.Contains(dsn, ":"+pw+"@") {
		t.Error("audit-mirror's DSN and ClickHouse's CLICKHOUSE_PASSWORD disagree")
	}

	testComposeNATS(t, p, perms)
	testComposeRest(t, p)
}

func testComposeNATS(t *testing.T, p *types.Project, perms natsauth.Permissions) {
	for i := 1; i <= 3; i++ {
		name := "nats-" + strconv.Itoa(i)
		s, ok := p.Services[name]
		if !ok {
			t.Fatalf("no %s", name)
		}
		conf := "/etc/nats/" + name + ".conf"
		if !slices.Equal(s.Command, types.ShellCommand{"-c", conf}) {
			t.Errorf("%s: command %v", name, s.Command)
		}
		mounts := map[string]types.ServiceVolumeConfig{}
		for _, v := range s.Volumes {
			mounts[v.Target] = v
		}
		rel := func(v types.ServiceVolumeConfig) string {
			r, _ := filepath.Rel(p.WorkingDir, v.Source)
			return filepath.ToSlash(r)
		}
		if v := mounts["/etc/nats"]; rel(v) != "deploy/nats" || !v.ReadOnly {
			t.Errorf("%s: /etc/nats from %q (read-only %v)", name, v.Source, v.ReadOnly)
		}
		if v := mounts["/etc/nats-tls"]; rel(v) != "deploy/secrets/tls" || !v.ReadOnly {
			t.Errorf("%s: /etc/nats-tls from %q", name, v.Source)
		}
		if v := mounts["/data"]; v.Type != types.VolumeTypeVolume {
			t.Errorf("%s: /data is not a named volume (JetStream's store_dir is /data/jetstream)", name)
		}
		// The node's environment holds every user's public key, so the
		// shipped config (which names them) parses.
		e := env(s)
		for _, u := range perms.Users() {
			if e[natsauth.NKeyVar(u)] == "" {
				t.Errorf("%s: no %s in its environment", name, natsauth.NKeyVar(u))
			}
		}
		for k, v := range e {
			t.Setenv(k, v)
		}
		tlsDir := filepath.Join(p.WorkingDir, "deploy", "secrets", "tls")
		opts := shippedConfig(t, name+".conf", tlsDir)
		if opts.ServerName != name {
			t.Errorf("%s runs %s, whose server_name is %q", name, conf, opts.ServerName)
		}
		for _, r := range opts.Routes {
			if _, ok := p.Services[r.Hostname()]; !ok {
				t.Errorf("%s: route to %s, which is no service", name, r.Host)
			}
		}
		for _, pc := range s.Ports {
			if pc.HostIP != "127.0.0.1" || pc.Target != uint32(opts.Port) {
				t.Errorf("%s: publishes %s:%s -> %d; want loopback -> the client port %d", name, pc.HostIP, pc.Published, pc.Target, opts.Port)
			}
		}
		if i > 1 && len(s.Ports) > 0 {
			t.Errorf("%s publishes ports: one node is enough for mlc on the host", name)
		}
		exp, ok := p.Services["nats-exporter-"+strconv.Itoa(i)]
		if !ok || exp.NetworkMode != "service:"+name {
			t.Errorf("%s: no exporter in its network namespace (monitoring is loopback-only)", name)
		} else if want := "http://" + opts.HTTPHost + ":" + strconv.Itoa(opts.HTTPPort); !slices.Contains(exp.Command, want) {
			t.Errorf("exporter of %s scrapes %v, the node monitors on %s", name, exp.Command, want)
		}
	}
}

// shippedConfig parses deploy/nats/<file> with certificates from tlsDir.
func shippedConfig(t *testing.T, file, tlsDir string) *server.Options {
	t.Helper()
	etc := t.TempDir()
	for _, f := range []string{file, "cluster.conf", "accounts.conf"} {
		b, err := os.ReadFile(repo(t, "deploy", "nats", f))
		if err != nil {
			t.Fatal(err)
		}
		b = []byte(strings.ReplaceAll(string(b), "/etc/nats-tls/", tlsDir+"/"))
		if err := os.WriteFile(filepath.Join(etc, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	opts, err := server.ProcessConfigFile(filepath.Join(etc, file))
	if err != nil {
		t.Fatal(err)
	}
	return opts
}

func testComposeRest(t *testing.T, p *types.Project) {
	// The CLI: the operator's NKey, the master key, profile cli.
	mlc := p.Services["mlc"]
	if !slices.Contains(mlc.Profiles, "cli") || env(mlc)["MLC_NATS_NKEY_FILE"] != "/run/secrets/nkey-mlc" || !slices.Contains(secretNames(mlc), "master-key") {
		t.Errorf("mlc: profiles %v, nkey %q, secrets %v", mlc.Profiles, env(mlc)["MLC_NATS_NKEY_FILE"], secretNames(mlc))
	}
	// The simulators: every flag is one mlc sim has, and the address they
	// listen on is the one the network gives them.
	sim := p.Services["sim"]
	if !slices.Contains(sim.Profiles, "sim") {
		t.Errorf("sim: profiles %v", sim.Profiles)
	}
	ip := ""
	if n := sim.Networks["mlc"]; n != nil {
		ip = n.Ipv4Address
	}
	help, err := exec.Command(buildMLC(t), "sim", "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("mlc sim --help: %v\n%s", err, help)
	}
	for i, a := range sim.Command {
		if strings.HasPrefix(a, "--") && !strings.Contains(string(help), a+" ") {
			t.Errorf("sim: mlc sim has no flag %s", a)
		}
		if strings.HasSuffix(a, "-addr") && (i+1 >= len(sim.Command) || !strings.HasPrefix(sim.Command[i+1], ip+":")) {
			t.Errorf("sim: %s is not on the fixed address %s", a, ip)
		}
	}
	// Prometheus and Grafana read what they are given where they look.
	mounted := func(svc, target, source string) {
		t.Helper()
		for _, v := range p.Services[svc].Volumes {
			if v.Target == target {
				r, _ := filepath.Rel(p.WorkingDir, v.Source)
				if filepath.ToSlash(r) != source {
					t.Errorf("%s: %s from %s, want %s", svc, target, r, source)
				}
				return
			}
		}
		t.Errorf("%s: nothing mounted at %s", svc, target)
	}
	mounted("prometheus", "/etc/prometheus/prometheus.yml", "deploy/monitoring/prometheus.yml")
	mounted("prometheus", "/etc/prometheus/alerts.yml", "deploy/monitoring/alerts.yml")
	mounted("grafana", "/etc/grafana/provisioning", "deploy/monitoring/grafana/provisioning")
	mounted("grafana", "/var/lib/grafana/dashboards", "deploy/monitoring/grafana/dashboards")
	for name, s := range p.Services {
		for _, pc := range s.Ports {
			if pc.HostIP != "127.0.0.1" {
				t.Errorf("%s publishes %s on %q: loopback only", name, pc.Published, pc.HostIP)
			}
		}
	}
}
