package deploycheck

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"
	"github.com/santhosh-tekuri/jsonschema/v6"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/ml-connector/ml-connector/deploy/natsauth"
	"github.com/ml-connector/ml-connector/pkg/fleet"
	"github.com/ml-connector/ml-connector/pkg/secrets"
	"github.com/ml-connector/ml-connector/pkg/service"
	"github.com/ml-connector/ml-connector/pkg/stream"
	"github.com/ml-connector/ml-connector/streams"
)

// kedaVersion is the KEDA release whose CRDs the ScaledObjects are
// validated against (the Go module ships them).
const kedaVersion = "v2.21.0"

// manifests holds the decoded Kubernetes objects, by kind and name.
type manifests struct {
	deployments map[string]appsv1.Deployment
	pdbs        []policyv1.PodDisruptionBudget
	configMaps  map[string]corev1.ConfigMap
	services    []corev1.Service
	policies    []networkingv1.NetworkPolicy
	jobs        map[string]batchv1.Job
	scaled      []scaledObject
	chi         []clickHouseInstallation
	namespaces  []corev1.Namespace
}

// scaledObject is the part of KEDA's ScaledObject the checks read; the
// whole object is validated against KEDA's CRD schema first.
type scaledObject struct {
	Metadata struct{ Name string }
	Spec     struct {
		ScaleTargetRef  struct{ Name string }
		MinReplicaCount *int32
		MaxReplicaCount *int32
		Triggers        []struct {
			Type     string
			Metadata map[string]string
		}
	}
}

// clickHouseInstallation is the subset of the Altinity operator's CHI that
// deploy/k8s/clickhouse.yaml uses, decoded strictly (the operator's CRD is
// not available here to validate against; see the README).
type clickHouseInstallation struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name      string            `json:"name"`
		Namespace string            `json:"namespace,omitempty"`
		Labels    map[string]string `json:"labels,omitempty"`
	} `json:"metadata"`
	Spec struct {
		Defaults struct {
			Templates struct {
				PodTemplate             string `json:"podTemplate"`
				DataVolumeClaimTemplate string `json:"dataVolumeClaimTemplate"`
			} `json:"templates"`
		} `json:"defaults"`
		Configuration struct {
			Users    map[string]any `json:"users"`
			Clusters []struct {
				Name   string `json:"name"`
				Layout struct {
					ShardsCount   int `json:"shardsCount"`
					ReplicasCount int `json:"replicasCount"`
				} `json:"layout"`
			} `json:"clusters"`
		} `json:"configuration"`
		Templates struct {
			PodTemplates []struct {
				Name string         `json:"name"`
				Spec corev1.PodSpec `json:"spec"`
			} `json:"podTemplates"`
			VolumeClaimTemplates []struct {
				Name string                           `json:"name"`
				Spec corev1.PersistentVolumeClaimSpec `json:"spec"`
			} `json:"volumeClaimTemplates"`
		} `json:"templates"`
	} `json:"spec"`
}

// renderK8s builds deploy/k8s with kustomize (the library kubectl apply -k
// runs) and decodes every object into its Kubernetes API type, strictly:
// a misspelt or misplaced field is an error, as the API server's strict
// field validation makes it one.
func renderK8s(t *testing.T) manifests {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	res, err := k.Run(filesys.MakeFsOnDisk(), repo(t, "deploy", "k8s"))
	if err != nil {
		t.Fatalf("kustomize build deploy/k8s: %v", err)
	}
	out, err := res.AsYaml()
	if err != nil {
		t.Fatal(err)
	}
	m := manifests{deployments: map[string]appsv1.Deployment{}, configMaps: map[string]corev1.ConfigMap{}, jobs: map[string]batchv1.Job{}}
	decodeAll(t, "kustomize build deploy/k8s", out, &m)
	for _, f := range []string{"streams-apply.yaml", "credentials-rotate.yaml"} {
		b, err := os.ReadFile(repo(t, "deploy", "k8s", "ops", f))
		if err != nil {
			t.Fatal(err)
		}
		decodeAll(t, "ops/"+f, b, &m)
	}
	return m
}

func decodeAll(t *testing.T, where string, stream []byte, m *manifests) {
	t.Helper()
	for i, doc := range bytes.Split(stream, []byte("\n---\n")) {
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		var head struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
		}
		if err := yaml.Unmarshal(doc, &head); err != nil {
			t.Fatalf("%s document %d: %v", where, i, err)
		}
		strict := func(into any) {
			t.Helper()
			if err := yaml.UnmarshalStrict(doc, into); err != nil {
				t.Errorf("%s: %s/%s: %v", where, head.APIVersion, head.Kind, err)
			}
		}
		switch head.APIVersion + "/" + head.Kind {
		case "apps/v1/Deployment":
			var d appsv1.Deployment
			strict(&d)
			m.deployments[d.Name] = d
		case "policy/v1/PodDisruptionBudget":
			var p policyv1.PodDisruptionBudget
			strict(&p)
			m.pdbs = append(m.pdbs, p)
		case "v1/ConfigMap":
			var c corev1.ConfigMap
			strict(&c)
			m.configMaps[c.Name] = c
		case "v1/Service":
			var s corev1.Service
			strict(&s)
			m.services = append(m.services, s)
		case "v1/Namespace":
			var n corev1.Namespace
			strict(&n)
			m.namespaces = append(m.namespaces, n)
		case "networking.k8s.io/v1/NetworkPolicy":
			var p networkingv1.NetworkPolicy
			strict(&p)
			m.policies = append(m.policies, p)
		case "batch/v1/Job":
			var j batchv1.Job
			strict(&j)
			m.jobs[j.Name] = j
		case "keda.sh/v1alpha1/ScaledObject":
			validateKEDA(t, doc)
			var s scaledObject
			if err := yaml.Unmarshal(doc, &s); err != nil {
				t.Fatal(err)
			}
			m.scaled = append(m.scaled, s)
		case "clickhouse.altinity.com/v1/ClickHouseInstallation":
			var c clickHouseInstallation
			strict(&c)
			m.chi = append(m.chi, c)
		default:
			t.Errorf("%s: no check for %s %s", where, head.APIVersion, head.Kind)
		}
	}
}

// validateKEDA validates a ScaledObject against the openAPIV3Schema of
// KEDA's own CRD, with unknown fields refused.
func validateKEDA(t *testing.T, doc []byte) {
	t.Helper()
	schema := kedaSchema(t)
	var v any
	j, err := yaml.YAMLToJSON(doc)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(j, &v); err != nil {
		t.Fatal(err)
	}
	if err := schema.Validate(v); err != nil {
		t.Errorf("ScaledObject against KEDA %s's CRD: %v", kedaVersion, err)
	}
}

var kedaSchemaCache *jsonschema.Schema

func kedaSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	if kedaSchemaCache != nil {
		return kedaSchemaCache
	}
	cmd := exec.Command("go", "mod", "download", "-json", "github.com/kedacore/keda/v2@"+kedaVersion)
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go mod download keda %s (its CRDs validate the ScaledObjects): %v", kedaVersion, err)
	}
	var mod struct{ Dir string }
	if err := json.Unmarshal(out, &mod); err != nil || mod.Dir == "" {
		t.Fatalf("go mod download: %s", out)
	}
	b, err := os.ReadFile(filepath.Join(mod.Dir, "config", "crd", "bases", "keda.sh_scaledobjects.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var crd struct {
		Spec struct {
			Versions []struct {
				Name   string
				Schema struct {
					OpenAPIV3Schema map[string]any `json:"openAPIV3Schema"`
				}
			}
		}
	}
	if err := yaml.Unmarshal(b, &crd); err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	for _, v := range crd.Spec.Versions {
		if v.Name == "v1alpha1" {
			raw = v.Schema.OpenAPIV3Schema
		}
	}
	if raw == nil {
		t.Fatal("KEDA's CRD has no v1alpha1 schema")
	}
	strictSchema(raw, true)
	c := jsonschema.NewCompiler()
	if err := c.AddResource("keda-scaledobject.json", raw); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("keda-scaledobject.json")
	if err != nil {
		t.Fatal(err)
	}
	kedaSchemaCache = s
	return s
}

// strictSchema turns a CRD's structural schema into a JSON Schema that
// refuses unknown fields (what the API server's strict validation does)
// and knows Kubernetes' int-or-string; metadata is the API server's.
func strictSchema(s map[string]any, root bool) {
	if s["x-kubernetes-int-or-string"] == true {
		delete(s, "type")
		s["anyOf"] = []any{map[string]any{"type": "integer"}, map[string]any{"type": "string"}}
	}
	props, _ := s["properties"].(map[string]any)
	if root {
		delete(props, "metadata")
	}
	if props != nil && s["x-kubernetes-preserve-unknown-fields"] != true {
		if _, ok := s["additionalProperties"]; !ok {
			s["additionalProperties"] = false
		}
		if root {
			props["metadata"] = map[string]any{"type": "object"}
		}
	}
	for _, p := range props {
		if m, ok := p.(map[string]any); ok {
			strictSchema(m, false)
		}
	}
	for _, k := range []string{"items", "additionalProperties"} {
		if m, ok := s[k].(map[string]any); ok {
			strictSchema(m, false)
		}
	}
}

// podEnv is the environment a container gets: its ConfigMaps, then its
// own variables (a Secret's value stands in as "<secret>").
func podEnv(t *testing.T, m manifests, c corev1.Container) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, from := range c.EnvFrom {
		if from.ConfigMapRef == nil {
			t.Errorf("%s: envFrom other than a ConfigMap", c.Name)
			continue
		}
		cm, ok := m.configMaps[from.ConfigMapRef.Name]
		if !ok && !strings.HasPrefix(c.Name, "mlc") {
			t.Errorf("%s: ConfigMap %s does not exist", c.Name, from.ConfigMapRef.Name)
		}
		maps.Copy(env, cm.Data)
	}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			env[e.Name] = e.Value
		case e.ValueFrom.SecretKeyRef != nil:
			env[e.Name] = "<secret>"
		default:
			t.Errorf("%s: %s comes from neither a value nor a Secret", c.Name, e.Name)
		}
	}
	return env
}

// projected maps each mounted file path to the Secret and key it is.
func projected(t *testing.T, spec corev1.PodSpec, c corev1.Container) map[string]string {
	t.Helper()
	files := map[string]string{}
	for _, vm := range c.VolumeMounts {
		for _, v := range spec.Volumes {
			if v.Name != vm.Name {
				continue
			}
			if v.Projected == nil {
				t.Errorf("%s: volume %s is not a projected Secret volume", c.Name, v.Name)
				continue
			}
			if !vm.ReadOnly {
				t.Errorf("%s: secrets mounted writable", c.Name)
			}
			for _, src := range v.Projected.Sources {
				if src.Secret == nil {
					t.Errorf("%s: projected source other than a Secret", c.Name)
					continue
				}
				for _, it := range src.Secret.Items {
					files[filepath.Join(vm.MountPath, it.Path)] = src.Secret.Name + "/" + it.Key
				}
			}
		}
	}
	return files
}

// secretRefs lists every Secret a pod spec names, with the keys it reads.
func secretRefs(spec corev1.PodSpec) map[string][]string {
	refs := map[string][]string{}
	for _, v := range spec.Volumes {
		if v.Projected != nil {
			for _, s := range v.Projected.Sources {
				if s.Secret != nil {
					for _, it := range s.Secret.Items {
						refs[s.Secret.Name] = append(refs[s.Secret.Name], it.Key)
					}
				}
			}
		}
	}
	for _, c := range spec.Containers {
		for _, e := range c.Env {
			if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
				refs[e.ValueFrom.SecretKeyRef.Name] = append(refs[e.ValueFrom.SecretKeyRef.Name], e.ValueFrom.SecretKeyRef.Key)
			}
		}
	}
	return refs
}

// TestKubernetes checks deploy/k8s: it builds with kustomize and every
// object decodes strictly into its API type (ScaledObjects validate
// against KEDA's CRD); every service has a Deployment with /readyz and
// /healthz probes, resource requests, a termination grace longer than its
// drain deadline, configuration its config struct reads and that parses,
// its own NKey, the master key exactly when it decrypts credentials, a
// restricted security context and a PodDisruptionBudget; KEDA scales the
// consumers on their own durables; the operator Jobs run real mlc
// commands; every Secret named is one the README tells how to create.
func TestKubernetes(t *testing.T) {
	m := renderK8s(t)
	perms := loadPermissions(t)
	defs, err := stream.Load(streams.FS)
	if err != nil {
		t.Fatal(err)
	}
	masterEnv := map[string]bool{secrets.EnvMasterKey: true, secrets.EnvMasterKeyFile: true, secrets.EnvPreviousKeys: true}
	// Every Secret the objects name, collected before any subtest runs so
	// that -run can pick one.
	allSecrets := map[string][]string{}
	for _, d := range m.deployments {
		for sec, ks := range secretRefs(d.Spec.Template.Spec) {
			allSecrets[sec] = append(allSecrets[sec], ks...)
		}
	}
	for _, j := range m.jobs {
		for sec, ks := range secretRefs(j.Spec.Template.Spec) {
			allSecrets[sec] = append(allSecrets[sec], ks...)
		}
	}
	for _, chi := range m.chi {
		ref, _ := chi.Spec.Configuration.Users["mlc/k8s_secret_password"].(string)
		if parts := strings.Split(ref, "/"); len(parts) == 3 {
			allSecrets[parts[1]] = append(allSecrets[parts[1]], parts[2])
		}
	}
	scaledTargets := map[string]bool{}
	for _, s := range m.scaled {
		scaledTargets[s.Spec.ScaleTargetRef.Name] = true
	}

	for _, svc := range fleet.All() {
		name := svc.Spec.Name
		t.Run(name, func(t *testing.T) {
			d, ok := m.deployments[name]
			if !ok {
				t.Fatalf("no Deployment %s", name)
			}
			cfg := configFor(t, name)
			perm, _ := perms.Service(name)
			spec := d.Spec.Template.Spec
			if d.Namespace != "mlc" {
				t.Errorf("namespace %q", d.Namespace)
			}
			sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
			if err != nil || !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
				t.Errorf("selector %v does not select its pods %v", d.Spec.Selector, d.Spec.Template.Labels)
			}
			if len(spec.Containers) != 1 {
				t.Fatalf("%d containers", len(spec.Containers))
			}
			c := spec.Containers[0]
			if c.Image != "ml-connector/"+name+":latest" {
				t.Errorf("image %q", c.Image)
			}
			env := podEnv(t, m, c)
			known := envNames(cfg.zero)
			for k := range env {
				switch {
				case masterEnv[k]:
					if !perm.MasterKey {
						t.Errorf("gets %s but decrypts no credentials", k)
					}
				case !known[k]:
					t.Errorf("%s is read by nothing in %T", k, cfg.zero)
				}
			}
			files := projected(t, spec, c)
			refs := secretRefs(spec)
			if _, ok := refs["mlc-master-key"]; ok != perm.MasterKey || (env[secrets.EnvMasterKeyFile] != "") != perm.MasterKey {
				t.Errorf("master key mounted %v, MLC_MASTER_KEY_FILE %q; permissions.json says %v", ok, env[secrets.EnvMasterKeyFile], perm.MasterKey)
			}
			if perm.MasterKey && files[env[secrets.EnvMasterKeyFile]] != "mlc-master-key/master.key" {
				t.Errorf("MLC_MASTER_KEY_FILE %q is not the mounted master key", env[secrets.EnvMasterKeyFile])
			}
			if files[env["MLC_NATS_NKEY_FILE"]] != "mlc-nkey-"+name+"/nkey" {
				t.Errorf("MLC_NATS_NKEY_FILE %q is not its own NKey (%v)", env["MLC_NATS_NKEY_FILE"], files)
			}
			for sec := range refs {
				if strings.HasPrefix(sec, "mlc-nkey-") && sec != "mlc-nkey-"+name {
					t.Errorf("also mounts %s", sec)
				}
			}
			if files[env["MLC_NATS_TLS_CA"]] != "nats-ca/ca.crt" {
				t.Errorf("MLC_NATS_TLS_CA %q is not the mounted CA", env["MLC_NATS_TLS_CA"])
			}
			if env["MLC_PROVISION"] != "false" {
				t.Errorf("MLC_PROVISION=%q", env["MLC_PROVISION"])
			}
			if err := cfg.load(env); err != nil {
				t.Errorf("the service would refuse this environment: %v", err)
			}
			_, port, _ := net.SplitHostPort(env["MLC_HTTP_ADDR"])
			if len(c.Ports) != 1 || strconv.Itoa(int(c.Ports[0].ContainerPort)) != port {
				t.Errorf("ports %v, MLC_HTTP_ADDR %q", c.Ports, env["MLC_HTTP_ADDR"])
			}
			probe := func(what string, p *corev1.Probe, path string) {
				if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != path || p.HTTPGet.Port.String() != c.Ports[0].Name {
					t.Errorf("%s probe %+v: want GET %s on the http port", what, p, path)
				}
			}
			probe("readiness", c.ReadinessProbe, "/readyz")
			probe("liveness", c.LivenessProbe, "/healthz")
			drain, err := time.ParseDuration(env["MLC_SHUTDOWN_TIMEOUT"])
			if err != nil {
				t.Fatalf("MLC_SHUTDOWN_TIMEOUT: %v", err)
			}
			if g := spec.TerminationGracePeriodSeconds; g == nil || time.Duration(*g)*time.Second <= drain+5*time.Second {
				t.Errorf("terminationGracePeriodSeconds %v must exceed the drain deadline %v (and the 5 s NATS drain after it)", g, drain)
			}
			if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
				t.Errorf("resources %+v: want CPU and memory requests and a memory limit", c.Resources)
			}
			restricted(t, name, spec, c)
			if d.Spec.Template.Annotations["prometheus.io/scrape"] != "true" || d.Spec.Template.Annotations["prometheus.io/port"] != port {
				t.Errorf("not scraped: annotations %v", d.Spec.Template.Annotations)
			}
			if d.Spec.Template.Labels["app.kubernetes.io/part-of"] != "ml-connector" {
				t.Errorf("pods lack app.kubernetes.io/part-of (the metrics NetworkPolicy selects it)")
			}
			if scaledTargets[name] && d.Spec.Replicas != nil {
				t.Errorf("KEDA scales it, yet the Deployment sets replicas %d (kubectl apply would fight the autoscaler)", *d.Spec.Replicas)
			}
			if !scaledTargets[name] && (d.Spec.Replicas == nil || *d.Spec.Replicas < 2) {
				t.Errorf("not autoscaled and fewer than two replicas")
			}
			pdbs := 0
			for _, p := range m.pdbs {
				s, err := metav1.LabelSelectorAsSelector(p.Spec.Selector)
				if err == nil && s.Matches(labels.Set(d.Spec.Template.Labels)) {
					pdbs++
					if p.Spec.MaxUnavailable == nil || p.Spec.MaxUnavailable.IntValue() < 1 {
						t.Errorf("PodDisruptionBudget %s would block node drains", p.Name)
					}
				}
			}
			if pdbs != 1 {
				t.Errorf("%d PodDisruptionBudgets select it; want 1", pdbs)
			}
		})
	}

	t.Run("autoscaling", func(t *testing.T) {
		for _, s := range m.scaled {
			name := s.Spec.ScaleTargetRef.Name
			perm, ok := perms.Service(name)
			if _, dep := m.deployments[name]; !ok || !dep {
				t.Errorf("ScaledObject %s scales %s, no service Deployment", s.Metadata.Name, name)
				continue
			}
			if s.Spec.MinReplicaCount == nil || *s.Spec.MinReplicaCount < 1 {
				t.Errorf("%s may scale to zero: nobody would then serve /metrics or reload credentials", name)
			}
			for _, tr := range s.Spec.Triggers {
				md := tr.Metadata
				c := md["stream"] + "/" + md["consumer"]
				if tr.Type != "nats-jetstream" || !contains(perm.Consumers, c) {
					t.Errorf("%s scales on %s %s, not a durable it consumes", name, tr.Type, c)
				}
				if md["account"] != perms.Account {
					t.Errorf("%s: account %q, the streams live in %s", name, md["account"], perms.Account)
				}
				if host, port, _ := net.SplitHostPort(md["natsServerMonitoringEndpoint"]); !strings.HasPrefix(host, "nats-headless.") || port != "8222" {
					t.Errorf("%s: monitoring endpoint %q: want the chart's headless service on 8222 (KEDA asks the consumer leader by pod name)", name, md["natsServerMonitoringEndpoint"])
				}
				if _, err := strconv.Atoi(md["lagThreshold"]); err != nil {
					t.Errorf("%s: lagThreshold %q", name, md["lagThreshold"])
				}
				// More writers than the durable lets have messages in flight
				// would only wait: max_ack_pending is the NetSuite budget.
				st, d, _ := strings.Cut(c, "/")
				if def, ok := defs.Consumer(st, d); ok && name == "netsuite-writer" && s.Spec.MaxReplicaCount != nil && int(*s.Spec.MaxReplicaCount) > def.Config.MaxAckPending {
					t.Errorf("netsuite-writer scales to %d, above max_ack_pending %d of %s", *s.Spec.MaxReplicaCount, def.Config.MaxAckPending, c)
				}
			}
		}
		for _, want := range []string{"transform", "netsuite-writer"} {
			if !scaledTargets[want] {
				t.Errorf("%s is not autoscaled", want)
			}
		}
	})

	t.Run("operator jobs", func(t *testing.T) {
		mlc := buildMLC(t)
		for name, j := range m.jobs {
			spec := j.Spec.Template.Spec
			c := spec.Containers[0]
			restricted(t, name, spec, c)
			files := projected(t, spec, c)
			env := podEnv(t, m, c)
			if files[env["MLC_NATS_NKEY_FILE"]] != "mlc-nkey-mlc/nkey" {
				t.Errorf("%s: not the operator's NKey", name)
			}
			for k := range env {
				if !masterEnv[k] && !envNames(service.Base{})[k] {
					t.Errorf("%s: %s is read by nothing", name, k)
				}
			}
			for _, a := range c.Args {
				if strings.HasPrefix(a, "/run/secrets/") {
					if _, ok := files[a]; !ok {
						t.Errorf("%s: argument %s is no mounted file", name, a)
					}
				}
			}
			// The arguments are an mlc command with flags it has.
			var cmd []string
			for _, a := range c.Args {
				if strings.HasPrefix(a, "-") {
					break
				}
				cmd = append(cmd, a)
			}
			help, err := exec.Command(mlc, append(cmd, "--help")...).CombinedOutput()
			if err != nil || !strings.Contains(string(help), "Usage:\n  mlc "+strings.Join(cmd, " ")) {
				t.Errorf("%s: mlc %v is no command: %v\n%s", name, cmd, err, help)
			}
			for _, a := range c.Args {
				if strings.HasPrefix(a, "--") && !strings.Contains(string(help), a+" ") {
					t.Errorf("%s: mlc %v has no flag %s", name, cmd, a)
				}
			}
		}
		for _, want := range []string{"mlc-streams-apply", "mlc-credentials-rotate"} {
			if _, ok := m.jobs[want]; !ok {
				t.Errorf("no Job %s", want)
			}
		}
		if got := m.jobs["mlc-streams-apply"].Spec.Template.Spec.Containers[0].Args; !slices.Equal(got, []string{"streams", "apply", "--replicas", "3"}) {
			t.Errorf("streams apply job runs %v", got)
		}
	})

	t.Run("clickhouse", func(t *testing.T) {
		if len(m.chi) != 1 {
			t.Fatalf("%d ClickHouseInstallations", len(m.chi))
		}
		chi := m.chi[0]
		ref, _ := chi.Spec.Configuration.Users["mlc/k8s_secret_password"].(string)
		parts := strings.Split(ref, "/")
		if len(parts) != 3 || parts[0] != "mlc" {
			t.Fatalf("mlc/k8s_secret_password %q: want namespace/secret/key", ref)
		}
		dsnSecret := ""
		for _, e := range m.deployments["audit-mirror"].Spec.Template.Spec.Containers[0].Env {
			if e.Name == "MLC_CLICKHOUSE_DSN" && e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
				dsnSecret = e.ValueFrom.SecretKeyRef.Name
			}
		}
		if dsnSecret != parts[1] {
			t.Errorf("audit-mirror's DSN comes from %q, the ClickHouse password from %q: one Secret keeps them in step", dsnSecret, parts[1])
		}
		if tpl := chi.Spec.Templates.PodTemplates; len(tpl) != 1 || !strings.HasPrefix(tpl[0].Spec.Containers[0].Image, "clickhouse/clickhouse-server:") {
			t.Errorf("pod template %+v", tpl)
		}
	})

	t.Run("network policies", func(t *testing.T) {
		deny := false
		for _, p := range m.policies {
			if len(p.Spec.PodSelector.MatchLabels) == 0 && len(p.Spec.Ingress) == 0 && slices.Contains(p.Spec.PolicyTypes, networkingv1.PolicyTypeIngress) {
				deny = true
			}
		}
		if !deny {
			t.Error("no default-deny ingress policy in namespace mlc")
		}
		b, err := os.ReadFile(repo(t, "deploy", "k8s", "nats", "networkpolicy.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		var np networkingv1.NetworkPolicy
		if err := yaml.UnmarshalStrict(b, &np); err != nil {
			t.Fatalf("nats/networkpolicy.yaml: %v", err)
		}
		ports := map[int]bool{}
		for _, r := range np.Spec.Ingress {
			for _, p := range r.Ports {
				ports[p.Port.IntValue()] = true
			}
			if len(r.From) == 0 {
				t.Errorf("nats policy admits port %v from anywhere", r.Ports)
			}
		}
		for _, p := range []int{4222, 6222, 8222} {
			if !ports[p] {
				t.Errorf("nats policy says nothing about port %d", p)
			}
		}
	})

	t.Run("secrets are documented", func(t *testing.T) {
		documented := readmeSecrets(t)
		for sec := range allSecrets {
			if !documented[sec] {
				t.Errorf("Secret %s is used but the README's Deploy section does not create it", sec)
			}
		}
		for sec := range documented {
			if _, ok := allSecrets[sec]; !ok && !strings.HasPrefix(sec, "nats-") {
				t.Errorf("the README creates Secret %s, which nothing uses", sec)
			}
		}
		for _, u := range perms.Users() {
			if u != perms.System.Name && !documented["mlc-nkey-"+u] {
				t.Errorf("the README creates no Secret mlc-nkey-%s", u)
			}
		}
	})
}

// readmeSecrets are the Secrets the README's Deploy section creates with
// kubectl create secret.
func readmeSecrets(t *testing.T) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(repo(t, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, "\n## Deploy")
	if i < 0 {
		t.Fatal("README.md has no Deploy section")
	}
	s = s[i+1:]
	if j := strings.Index(s[3:], "\n## "); j >= 0 {
		s = s[:j+3]
	}
	out := map[string]bool{}
	// for u in a b c; do kubectl create secret generic mlc-nkey-$u ...: one per name.
	var loop []string
	if m := regexp.MustCompile(`for u in ([a-z0-9 -]+); do`).FindStringSubmatch(s); m != nil {
		loop = strings.Fields(m[1])
	}
	re := regexp.MustCompile(`create secret (?:generic|tls) ([a-z0-9.${}-]+)`)
	for _, m := range re.FindAllStringSubmatch(s, -1) {
		name := m[1]
		if strings.Contains(name, "$") {
			for _, u := range loop {
				out[strings.NewReplacer("${u}", u, "$u", u).Replace(name)] = true
			}
			continue
		}
		out[name] = true
	}
	return out
}

// restricted checks the Pod Security "restricted" profile's demands (the
// namespace enforces it).
func restricted(t *testing.T, name string, spec corev1.PodSpec, c corev1.Container) {
	t.Helper()
	psc, sc := spec.SecurityContext, c.SecurityContext
	switch {
	case psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot:
		t.Errorf("%s: runAsNonRoot not set", name)
	case psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault:
		t.Errorf("%s: no RuntimeDefault seccomp profile", name)
	case psc.FSGroup == nil:
		t.Errorf("%s: no fsGroup: the non-root user cannot read its 0440 secrets", name)
	case sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
		t.Errorf("%s: privilege escalation allowed", name)
	case sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
		t.Errorf("%s: writable root filesystem", name)
	case sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}):
		t.Errorf("%s: capabilities not dropped", name)
	case spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken:
		t.Errorf("%s: mounts a service account token it never uses", name)
	}
}

// TestNATSHelmValues checks deploy/k8s/nats/values.yaml: it decodes
// strictly into the keys of the NATS chart it uses, the server settings
// it merges parse as NATS configuration together with accounts.conf, and
// they match deploy/nats (TLS, sync_interval always, max_payload, storage
// for the R3 reservations).
func TestNATSHelmValues(t *testing.T) {
	b, err := os.ReadFile(repo(t, "deploy", "k8s", "nats", "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var v helmValues
	if err := yaml.UnmarshalStrict(b, &v); err != nil {
		t.Fatalf("values.yaml: %v", err)
	}
	c := v.Config
	switch {
	case !c.Cluster.Enabled || c.Cluster.Replicas != 3:
		t.Errorf("cluster %+v: want 3 replicas", c.Cluster)
	case !c.Cluster.TLS.Enabled || c.Cluster.TLS.Merge["verify"] != true:
		t.Error("routes are not mutual TLS")
	case !c.NATS.TLS.Enabled || c.NATS.TLS.SecretName != c.Cluster.TLS.SecretName:
		t.Error("clients are not on TLS with the cluster's certificate")
	case !v.TLSCA.Enabled || v.TLSCA.SecretName == "":
		t.Error("no CA for the routes' mutual TLS")
	case !c.JetStream.Enabled || c.JetStream.Merge["sync_interval"] != "always":
		t.Errorf("JetStream %+v: want sync_interval always", c.JetStream)
	case c.Merge["$include"] != "./accounts.conf":
		t.Errorf("config.merge does not include accounts.conf: %v", c.Merge)
	case v.NatsBox.Enabled:
		t.Error("nats-box is on: an anonymous toolbox with the cluster's context")
	}
	if len(v.Container.Merge.EnvFrom) != 1 || v.Container.Merge.EnvFrom[0].SecretRef == nil {
		t.Error("the NKey public keys do not reach the server's environment")
	}

	// The server settings as the chart renders them: its config plus the
	// merged keys (<< x >> unquoted), with accounts.conf beside.
	perms := loadPermissions(t)
	for _, u := range perms.Users() {
		t.Setenv(natsauth.NKeyVar(u), mustNKey(t))
	}
	dir := t.TempDir()
	acc, err := os.ReadFile(repo(t, "deploy", "nats", "accounts.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "accounts.conf"), acc, 0o644); err != nil {
		t.Fatal(err)
	}
	var conf strings.Builder
	fmt.Fprintf(&conf, "server_name: nats-0\nport: 4222\n")
	fmt.Fprintf(&conf, "jetstream { store_dir: %q, max_file_store: %s, sync_interval: %v }\n", filepath.Join(dir, "js"), c.JetStream.FileStore.MaxSize, c.JetStream.Merge["sync_interval"])
	for _, k := range slices.Sorted(maps.Keys(c.Merge)) {
		val := fmt.Sprint(c.Merge[k])
		if k == "$include" {
			fmt.Fprintf(&conf, "include %s\n", val)
			continue
		}
		if strings.HasPrefix(val, "<<") && strings.HasSuffix(val, ">>") {
			val = strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(val, "<<"), ">>"))
		} else {
			val = strconv.Quote(val)
		}
		fmt.Fprintf(&conf, "%s: %s\n", k, val)
	}
	f := filepath.Join(dir, "nats.conf")
	if err := os.WriteFile(f, []byte(conf.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	opts, err := server.ProcessConfigFile(f)
	if err != nil {
		t.Fatalf("the chart's server settings do not parse:\n%s\n%v", conf.String(), err)
	}
	defs, err := stream.Load(streams.FS)
	if err != nil {
		t.Fatal(err)
	}
	var reserved int64
	var largest int32
	for _, s := range defs.Streams {
		reserved += s.Config.MaxBytes
		largest = max(largest, s.Config.MaxMsgSize)
	}
	if opts.JetStreamMaxStore < reserved {
		t.Errorf("maxSize %s is below the %d bytes the R3 streams reserve", c.JetStream.FileStore.MaxSize, reserved)
	}
	if pvc, err := resource.ParseQuantity(c.JetStream.FileStore.PVC.Size); err != nil || pvc.Value() < opts.JetStreamMaxStore {
		t.Errorf("the volume (%s) is smaller than max_file_store (%s)", c.JetStream.FileStore.PVC.Size, c.JetStream.FileStore.MaxSize)
	}
	if opts.MaxPayload < largest || !opts.SyncAlways || opts.LameDuckDuration == 0 {
		t.Errorf("max_payload %d (largest message %d), sync always %v, lame duck %v", opts.MaxPayload, largest, opts.SyncAlways, opts.LameDuckDuration)
	}
	if len(opts.Nkeys) != len(perms.Users()) {
		t.Errorf("%d users from accounts.conf, want %d", len(opts.Nkeys), len(perms.Users()))
	}
}

// helmValues are the keys of the NATS chart's values that values.yaml
// sets (chart nats 2.x, values.yaml of github.com/nats-io/k8s). Decoded
// strictly: a key the chart does not have is a typo that would be ignored.
type helmValues struct {
	Config struct {
		Cluster struct {
			Enabled  bool      `json:"enabled"`
			Replicas int       `json:"replicas"`
			TLS      tlsValues `json:"tls"`
		} `json:"cluster"`
		JetStream struct {
			Enabled   bool `json:"enabled"`
			FileStore struct {
				PVC struct {
					Size string `json:"size"`
				} `json:"pvc"`
				MaxSize string `json:"maxSize"`
			} `json:"fileStore"`
			Merge map[string]any `json:"merge"`
		} `json:"jetstream"`
		NATS struct {
			TLS tlsValues `json:"tls"`
		} `json:"nats"`
		Monitor struct {
			Enabled bool `json:"enabled"`
		} `json:"monitor"`
		Merge map[string]any `json:"merge"`
	} `json:"config"`
	TLSCA struct {
		Enabled    bool   `json:"enabled"`
		SecretName string `json:"secretName"`
		Key        string `json:"key"`
	} `json:"tlsCA"`
	Container struct {
		Merge struct {
			EnvFrom []corev1.EnvFromSource `json:"envFrom"`
		} `json:"merge"`
		Resources corev1.ResourceRequirements `json:"resources"`
	} `json:"container"`
	PromExporter struct {
		Enabled bool `json:"enabled"`
	} `json:"promExporter"`
	PodTemplate struct {
		Merge struct {
			Metadata metav1.ObjectMeta `json:"metadata"`
		} `json:"merge"`
		TopologySpreadConstraints map[string]struct {
			MaxSkew           int    `json:"maxSkew"`
			WhenUnsatisfiable string `json:"whenUnsatisfiable"`
		} `json:"topologySpreadConstraints"`
	} `json:"podTemplate"`
	PodDisruptionBudget struct {
		Enabled bool `json:"enabled"`
	} `json:"podDisruptionBudget"`
	NatsBox struct {
		Enabled bool `json:"enabled"`
	} `json:"natsBox"`
}

type tlsValues struct {
	Enabled    bool           `json:"enabled"`
	SecretName string         `json:"secretName"`
	Merge      map[string]any `json:"merge"`
}

func mustNKey(t *testing.T) string {
	t.Helper()
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, err := kp.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	return pub
}
