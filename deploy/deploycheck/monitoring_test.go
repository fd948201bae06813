package deploycheck

import (
	"context"
	"encoding/json"
	"fmt"
	"go/ast"
	goparser "go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	natsexporter "github.com/nats-io/prometheus-nats-exporter/collector"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/common/promslog"
	promconfig "github.com/prometheus/prometheus/config"
	_ "github.com/prometheus/prometheus/discovery/dns" // dns_sd_configs, as Prometheus registers it
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	"go.yaml.in/yaml/v3"

	"github.com/ml-connector/ml-connector/pkg/fleet"
	"github.com/ml-connector/ml-connector/pkg/stream"
)

// metricSet maps a metric name to its label names.
type metricSet map[string][]string

// codeMetrics finds every Prometheus metric the Go code of pkg/ declares
// (prometheus.XxxOpts{Name: "..."}, with the label names of a XxxVec),
// histograms and summaries with their _bucket, _sum and _count series.
func codeMetrics(t *testing.T) metricSet {
	t.Helper()
	out := metricSet{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(repo(t, "pkg"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		f, err := goparser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || !strings.HasPrefix(sel.Sel.Name, "New") || len(call.Args) == 0 {
				return true
			}
			if id, ok := sel.X.(*ast.Ident); !ok || id.Name != "prometheus" {
				return true
			}
			lit, ok := call.Args[0].(*ast.CompositeLit)
			if !ok {
				return true
			}
			name := optsName(lit)
			if name == "" {
				return true
			}
			var lbls []string
			if len(call.Args) > 1 {
				if l, ok := call.Args[1].(*ast.CompositeLit); ok {
					for _, e := range l.Elts {
						if s, ok := stringLit(e); ok {
							lbls = append(lbls, s)
						}
					}
				}
			}
			out[name] = lbls
			if strings.Contains(sel.Sel.Name, "Histogram") || strings.Contains(sel.Sel.Name, "Summary") {
				out[name+"_sum"], out[name+"_count"] = lbls, lbls
				out[name+"_bucket"] = append(slices.Clone(lbls), "le")
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// optsName is Namespace_Subsystem_Name of a prometheus.XxxOpts literal.
func optsName(lit *ast.CompositeLit) string {
	parts := map[string]string{}
	for _, e := range lit.Elts {
		kv, ok := e.(*ast.KeyValueExpr)
		if !ok {
			continue
		}
		k, ok := kv.Key.(*ast.Ident)
		if !ok {
			continue
		}
		if s, ok := stringLit(kv.Value); ok {
			parts[k.Name] = s
		}
	}
	if parts["Name"] == "" {
		return ""
	}
	return prometheus.BuildFQName(parts["Namespace"], parts["Subsystem"], parts["Name"])
}

func stringLit(e ast.Expr) (string, bool) {
	b, ok := e.(*ast.BasicLit)
	if !ok || b.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(b.Value)
	return s, err == nil
}

// exporterMetrics runs prometheus-nats-exporter's JetStream and health
// collectors, as deployed (-jsz=all -healthz), against a real server with
// streams/ applied, and returns what it exports.
func exporterMetrics(t *testing.T) metricSet {
	t.Helper()
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, HTTPHost: "127.0.0.1", HTTPPort: -1,
		JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	if !s.ReadyForConnections(wait) {
		t.Fatal("server not ready")
	}
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if _, err := stream.ApplyDeclared(ctx, js, nil); err != nil {
		t.Fatal(err)
	}
	monitor := fmt.Sprintf("http://127.0.0.1:%d", s.MonitorAddr().Port)
	servers := []*natsexporter.CollectedServer{{URL: monitor, ID: "nats-1"}}
	reg := prometheus.NewRegistry()
	reg.MustRegister(natsexporter.NewJszCollector("all", "", servers, nil, nil))
	reg.MustRegister(natsexporter.NewCollector(natsexporter.CoreSystem, "healthz", "", servers))
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := metricSet{}
	for _, f := range families {
		var lbls []string
		if len(f.Metric) > 0 {
			for _, l := range f.Metric[0].Label {
				lbls = append(lbls, l.GetName())
			}
		}
		out[f.GetName()] = lbls
	}
	if _, ok := out["jetstream_consumer_num_pending"]; !ok {
		t.Fatalf("the exporter exported no consumer metrics: %v", keys(out))
	}
	return out
}

func keys(m metricSet) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestMonitoring checks the alert rules (as promtool check rules does:
// rulefmt, PromQL, templates), the Prometheus configuration (Prometheus's
// own loader), the Grafana dashboard and its provisioning, and that every
// metric and label they name exists: in the services' code, in what
// prometheus-nats-exporter exports, or as Prometheus's own `up`.
func TestMonitoring(t *testing.T) {
	known := codeMetrics(t)
	if len(known) < 10 {
		t.Fatalf("found only %d metrics in pkg/; the scan is broken", len(known))
	}
	for name, lbls := range exporterMetrics(t) {
		known[name] = lbls
	}
	known["up"] = []string{"job", "instance"}

	check := func(where, expr string) {
		t.Helper()
		e, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
		if err != nil {
			t.Errorf("%s: %v", where, err)
			return
		}
		for _, problem := range unknownNames(e, known) {
			t.Errorf("%s: %s", where, problem)
		}
	}

	groups, errs := rulefmt.ParseFile(repo(t, "deploy", "monitoring", "alerts.yml"), false, model.UTF8Validation, parser.NewParser(parser.Options{}), promslog.NewNopLogger())
	for _, err := range errs {
		t.Errorf("alerts.yml: %v", err)
	}
	if groups != nil {
		alerts := map[string]bool{}
		for _, g := range groups.Groups {
			for _, r := range g.Rules {
				if r.Alert == "" {
					continue
				}
				alerts[r.Alert] = true
				check("alert "+r.Alert, r.Expr)
				if sev := r.Labels["severity"]; sev != "warning" && sev != "critical" {
					t.Errorf("alert %s: severity %q", r.Alert, sev)
				}
				if r.Annotations["summary"] == "" {
					t.Errorf("alert %s has no summary", r.Alert)
				}
			}
		}
		// What the issue asks to be alerted on.
		for _, a := range []string{"WebhookFailures", "DeadLettersGrowing", "NetSuiteRateLimited", "ConsumerLag", "AuditLag", "BackfillFoundMissedOrders", "NetSuiteTokenFailures"} {
			if !alerts[a] {
				t.Errorf("no alert %s", a)
			}
		}
	}

	cfg, err := promconfig.LoadFile(repo(t, "deploy", "monitoring", "prometheus.yml"), false, promslog.NewNopLogger())
	if err != nil {
		t.Fatalf("prometheus.yml: %v", err)
	}
	jobs := map[string]bool{}
	for _, sc := range cfg.ScrapeConfigs {
		jobs[sc.JobName] = true
	}
	for _, s := range fleet.All() {
		if !jobs["mlc-"+s.Spec.Name] {
			t.Errorf("prometheus.yml does not scrape %s (job mlc-%s, which the ServiceDown alert matches)", s.Spec.Name, s.Spec.Name)
		}
	}
	if !jobs["nats"] {
		t.Error("prometheus.yml does not scrape the NATS exporters (job nats)")
	}
	if !slices.Contains(cfg.RuleFiles, "/etc/prometheus/alerts.yml") {
		t.Errorf("prometheus.yml rule_files %v: want /etc/prometheus/alerts.yml (docker-compose.yml mounts it there)", cfg.RuleFiles)
	}

	checkDashboard(t, check)
}

// unknownNames lists the metrics and labels of e that nothing exports.
func unknownNames(e parser.Expr, known metricSet) []string {
	var problems []string
	has := func(metric, label string) bool {
		return label == "__name__" || slices.Contains(known[metric], label)
	}
	var walk func(n parser.Node, path []parser.Node)
	walk = func(n parser.Node, path []parser.Node) {
		switch n := n.(type) {
		case *parser.VectorSelector:
			if _, ok := known[n.Name]; !ok {
				problems = append(problems, fmt.Sprintf("metric %s is exported by nothing", n.Name))
				break
			}
			for _, m := range n.LabelMatchers {
				if m.Name != model.MetricNameLabel && !has(n.Name, m.Name) {
					problems = append(problems, fmt.Sprintf("%s has no label %s", n.Name, m.Name))
				}
			}
		case *parser.AggregateExpr:
			for _, name := range selectorsUnder(n.Expr) {
				for _, l := range n.Grouping {
					if !has(name, l) {
						problems = append(problems, fmt.Sprintf("%s: grouped by %s, which it does not have", name, l))
					}
				}
			}
		}
		for _, c := range parser.Children(n) {
			walk(c, append(path, n))
		}
	}
	walk(e, nil)
	return problems
}

// selectorsUnder names the metrics an aggregation aggregates (not inside a
// nested aggregation, whose own grouping decides the labels).
func selectorsUnder(n parser.Node) []string {
	var out []string
	switch n := n.(type) {
	case *parser.VectorSelector:
		return []string{n.Name}
	case *parser.AggregateExpr:
		return nil
	default:
		for _, c := range parser.Children(n) {
			out = append(out, selectorsUnder(c)...)
		}
	}
	return out
}

func checkDashboard(t *testing.T, check func(where, expr string)) {
	t.Helper()
	var ds struct {
		Datasources []struct{ UID, Type string }
	}
	readYAML(t, repo(t, "deploy", "monitoring", "grafana", "provisioning", "datasources", "prometheus.yml"), &ds)
	if len(ds.Datasources) != 1 || ds.Datasources[0].Type != "prometheus" {
		t.Fatalf("datasource provisioning: %+v", ds)
	}
	uid := ds.Datasources[0].UID
	var prov struct {
		Providers []struct {
			Options struct{ Path string }
		}
	}
	readYAML(t, repo(t, "deploy", "monitoring", "grafana", "provisioning", "dashboards", "ml-connector.yml"), &prov)
	if len(prov.Providers) != 1 || prov.Providers[0].Options.Path != "/var/lib/grafana/dashboards" {
		t.Errorf("dashboard provisioning: %+v (docker-compose.yml mounts the dashboards at /var/lib/grafana/dashboards)", prov)
	}

	b, err := os.ReadFile(repo(t, "deploy", "monitoring", "grafana", "dashboards", "ml-connector.json"))
	if err != nil {
		t.Fatal(err)
	}
	type target struct{ Expr, RefID string }
	type panel struct {
		ID         int
		Type       string
		Title      string
		Datasource *struct{ UID string }
		GridPos    struct{ X, Y, W, H int }
		Targets    []target
	}
	var d struct {
		UID, Title string
		Panels     []panel
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("dashboard: %v", err)
	}
	if d.UID == "" || d.Title == "" || len(d.Panels) == 0 {
		t.Fatalf("dashboard uid %q title %q with %d panels", d.UID, d.Title, len(d.Panels))
	}
	ids := map[int]bool{}
	queries := 0
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d twice", p.ID)
		}
		ids[p.ID] = true
		if p.GridPos.X < 0 || p.GridPos.W <= 0 || p.GridPos.X+p.GridPos.W > 24 {
			t.Errorf("panel %q: gridPos %+v outside the 24 columns", p.Title, p.GridPos)
		}
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || p.Datasource.UID != uid {
			t.Errorf("panel %q: datasource %+v, provisioned uid %q", p.Title, p.Datasource, uid)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			queries++
			check(fmt.Sprintf("panel %q", p.Title), q.Expr)
		}
	}
	if queries < 10 {
		t.Errorf("only %d queries on the dashboard", queries)
	}
}

func readYAML(t *testing.T, path string, into any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	if err := dec.Decode(into); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
