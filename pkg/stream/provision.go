package stream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"reflect"
	"sort"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ml-connector/ml-connector/pkg/event"
	"github.com/ml-connector/ml-connector/streams"
)

// Definitions are the streams, consumers and KV buckets declared in
// streams/ (see package github.com/ml-connector/ml-connector/streams).
type Definitions struct {
	Streams   []StreamDef
	Consumers []ConsumerDef
	Buckets   []BucketDef
}

// StreamDef is one <STREAM>.json file. Raw keeps the keys the file sets, so
// that "unchanged" compares only what we declare, not server defaults.
type StreamDef struct {
	File   string
	Config jetstream.StreamConfig
	raw    map[string]any
}

// ConsumerDef is one <STREAM>/<durable>.json file.
type ConsumerDef struct {
	File   string
	Stream string
	Config jetstream.ConsumerConfig
	raw    map[string]any
}

// BucketDef is one kv/<bucket>.json file.
type BucketDef struct {
	File   string
	Config jetstream.KeyValueConfig
}

// Load reads every definition from fsys, strictly: unknown fields are an
// error, so a typo in a JSON file fails the load instead of being ignored.
func Load(fsys fs.FS) (Definitions, error) {
	var defs Definitions
	files, err := fs.Glob(fsys, "*.json")
	if err != nil {
		return defs, err
	}
	for _, f := range files {
		var d StreamDef
		if err := decodeStrict(fsys, f, &d.Config, &d.raw); err != nil {
			return defs, err
		}
		d.File = f
		if want := strings.TrimSuffix(f, ".json"); d.Config.Name != want {
			return defs, fmt.Errorf("%s: stream name %q must match the file name", f, d.Config.Name)
		}
		defs.Streams = append(defs.Streams, d)
	}
	sub, err := fs.Glob(fsys, "*/*.json")
	if err != nil {
		return defs, err
	}
	for _, f := range sub {
		dir, name := path.Split(f)
		dir = strings.TrimSuffix(dir, "/")
		if dir == "kv" {
			var b BucketDef
			if err := decodeStrict(fsys, f, &b.Config, nil); err != nil {
				return defs, err
			}
			b.File = f
			if want := strings.TrimSuffix(name, ".json"); b.Config.Bucket != want {
				return defs, fmt.Errorf("%s: bucket %q must match the file name", f, b.Config.Bucket)
			}
			defs.Buckets = append(defs.Buckets, b)
			continue
		}
		c := ConsumerDef{File: f, Stream: dir}
		if err := decodeStrict(fsys, f, &c.Config, &c.raw); err != nil {
			return defs, err
		}
		if want := strings.TrimSuffix(name, ".json"); c.Config.Durable != want {
			return defs, fmt.Errorf("%s: durable_name %q must match the file name", f, c.Config.Durable)
		}
		defs.Consumers = append(defs.Consumers, c)
	}
	for _, c := range defs.Consumers {
		if _, ok := defs.stream(c.Stream); !ok {
			return defs, fmt.Errorf("%s: consumer of unknown stream %q", c.File, c.Stream)
		}
	}
	return defs, nil
}

func decodeStrict(fsys fs.FS, name string, into any, raw *map[string]any) error {
	b, err := fs.ReadFile(fsys, name)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if raw != nil {
		if err := json.Unmarshal(b, raw); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}

func (d Definitions) stream(name string) (StreamDef, bool) {
	for _, s := range d.Streams {
		if s.Config.Name == name {
			return s, true
		}
	}
	return StreamDef{}, false
}

// Consumer returns the definition of stream's durable consumer.
func (d Definitions) Consumer(stream, durable string) (ConsumerDef, bool) {
	for _, c := range d.Consumers {
		if c.Stream == stream && c.Config.Durable == durable {
			return c, true
		}
	}
	return ConsumerDef{}, false
}

// Only keeps the named streams (with their consumers) and buckets; a
// service applies just what it uses.
func (d Definitions) Only(streams []string, buckets []string) Definitions {
	var out Definitions
	for _, s := range d.Streams {
		if contains(streams, s.Config.Name) {
			out.Streams = append(out.Streams, s)
		}
	}
	for _, c := range d.Consumers {
		if contains(streams, c.Stream) {
			out.Consumers = append(out.Consumers, c)
		}
	}
	for _, b := range d.Buckets {
		if contains(buckets, b.Config.Bucket) {
			out.Buckets = append(out.Buckets, b)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Action says what Apply did to one definition.
type Action string

// Apply outcomes.
const (
	Created   Action = "created"
	Updated   Action = "updated"
	Unchanged Action = "unchanged"
)

// Result is one line of an Apply report.
type Result struct {
	Kind   string `json:"kind"` // stream, consumer, kv
	Name   string `json:"name"`
	Action Action `json:"action"`
}

type applyOptions struct {
	replicas int
	declared bool // set runtime-owned values to the files' too
}

// ApplyOption changes how definitions are applied.
type ApplyOption func(*applyOptions)

// WithReplicas overrides num_replicas of every stream and bucket (the files
// say 1 for development; production applies them with 3).
func WithReplicas(n int) ApplyOption { return func(o *applyOptions) { o.replicas = n } }

// WithDeclaredRuntimeValues also sets what a service owns at run time
// (netsuite-writer's max_ack_pending) to its file's value: the operator's
// `mlc streams apply` does, a service provisioning at start does not.
func WithDeclaredRuntimeValues() ApplyOption { return func(o *applyOptions) { o.declared = true } }

// Apply creates what is missing and updates what differs from its file.
// Applying the same definitions twice reports everything Unchanged.
func Apply(ctx context.Context, js jetstream.JetStream, defs Definitions, opts ...ApplyOption) ([]Result, error) {
	var o applyOptions
	for _, opt := range opts {
		opt(&o)
	}
	var out []Result
	for _, s := range defs.Streams {
		cfg, raw := s.Config, s.raw
		if o.replicas > 0 {
			cfg.Replicas = o.replicas
			raw = withKey(raw, "num_replicas", float64(o.replicas))
		}
		act, err := applyStream(ctx, js, cfg, raw)
		if err != nil {
			return out, fmt.Errorf("apply stream %s: %w", cfg.Name, err)
		}
		out = append(out, Result{"stream", cfg.Name, act})
	}
	for _, c := range defs.Consumers {
		act, err := applyConsumer(ctx, js, c, o.declared)
		if err != nil {
			return out, fmt.Errorf("apply consumer %s/%s: %w", c.Stream, c.Config.Durable, err)
		}
		out = append(out, Result{"consumer", c.Stream + "/" + c.Config.Durable, act})
	}
	for _, b := range defs.Buckets {
		cfg := b.Config
		if o.replicas > 0 {
			cfg.Replicas = o.replicas
		}
		act, err := applyBucket(ctx, js, cfg)
		if err != nil {
			return out, fmt.Errorf("apply bucket %s: %w", cfg.Bucket, err)
		}
		out = append(out, Result{"kv", cfg.Bucket, act})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Kind < out[j].Kind })
	return out, nil
}

func withKey(m map[string]any, k string, v any) map[string]any {
	c := make(map[string]any, len(m)+1)
	for key, val := range m {
		c[key] = val
	}
	c[k] = v
	return c
}

func applyStream(ctx context.Context, js jetstream.JetStream, cfg jetstream.StreamConfig, raw map[string]any) (Action, error) {
	st, err := js.Stream(ctx, cfg.Name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		if _, err := js.CreateStream(ctx, cfg); err != nil {
			return "", err
		}
		return Created, nil
	}
	if err != nil {
		return "", err
	}
	same, err := declaredEqual(raw, st.CachedInfo().Config)
	if err != nil || same {
		return Unchanged, err
	}
	if _, err := js.UpdateStream(ctx, cfg); err != nil {
		return "", err
	}
	return Updated, nil
}

func applyConsumer(ctx context.Context, js jetstream.JetStream, c ConsumerDef, declaredRuntime bool) (Action, error) {
	cons, err := js.Consumer(ctx, c.Stream, c.Config.Durable)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		if _, err := js.CreateConsumer(ctx, c.Stream, c.Config); err != nil {
			return "", err
		}
		return Created, nil
	}
	if err != nil {
		return "", err
	}
	live := cons.CachedInfo().Config
	declared, cfg := c.raw, c.Config
	if event.RuntimeMaxAckPending(cfg.Durable) && !declaredRuntime {
		// Its service owns the value (netsuite-writer's budget): another
		// service starting must not cut the writer back to the file's.
		declared = maps.Clone(declared)
		delete(declared, "max_ack_pending")
		cfg.MaxAckPending = live.MaxAckPending
	}
	same, err := declaredEqual(declared, live)
	if err != nil || same {
		return Unchanged, err
	}
	if _, err := js.UpdateConsumer(ctx, c.Stream, cfg); err != nil {
		return "", err
	}
	return Updated, nil
}

func applyBucket(ctx context.Context, js jetstream.JetStream, cfg jetstream.KeyValueConfig) (Action, error) {
	kv, err := js.KeyValue(ctx, cfg.Bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		if _, err := js.CreateKeyValue(ctx, cfg); err != nil {
			return "", err
		}
		return Created, nil
	}
	if err != nil {
		return "", err
	}
	st, err := kv.Status(ctx)
	if err != nil {
		return "", err
	}
	info := st.(*jetstream.KeyValueBucketStatus).StreamInfo().Config
	replicas := cfg.Replicas
	if replicas == 0 {
		replicas = 1
	}
	if int64(cfg.History) == info.MaxMsgsPerSubject && cfg.TTL == info.MaxAge &&
		cfg.MaxValueSize == info.MaxMsgSize && cfg.Storage == info.Storage &&
		replicas == info.Replicas && cfg.Description == info.Description {
		return Unchanged, nil
	}
	if _, err := js.UpdateKeyValue(ctx, cfg); err != nil {
		return "", err
	}
	return Updated, nil
}

// declaredEqual reports whether every key the file declares has the same
// value in the server's config (both rendered through the same JSON tags).
func declaredEqual(declared map[string]any, actual any) (bool, error) {
	b, err := json.Marshal(actual)
	if err != nil {
		return false, err
	}
	var have map[string]any
	if err := json.Unmarshal(b, &have); err != nil {
		return false, err
	}
	for k, want := range declared {
		if !reflect.DeepEqual(normalize(want), normalize(have[k])) {
			return false, nil
		}
	}
	return true, nil
}

// normalize treats an absent value like the zero value the server omits.
func normalize(v any) any {
	switch x := v.(type) {
	case nil:
		return nil
	case float64:
		if x == 0 {
			return nil
		}
	case string:
		if x == "" {
			return nil
		}
	case bool:
		if !x {
			return nil
		}
	case []any:
		if len(x) == 0 {
			return nil
		}
	}
	return v
}

// ApplyDeclared applies the definitions of streams/ (the embedded copy),
// all of them, or with a non-nil spec just the named streams and buckets.
func ApplyDeclared(ctx context.Context, js jetstream.JetStream, spec *Selection, opts ...ApplyOption) ([]Result, error) {
	defs, err := Load(streams.FS)
	if err != nil {
		return nil, err
	}
	if spec != nil {
		defs = defs.Only(spec.Streams, spec.Buckets)
	}
	return Apply(ctx, js, defs, opts...)
}

// Selection names the streams (with their consumers) and buckets to apply.
type Selection struct {
	Streams []string
	Buckets []string
}
