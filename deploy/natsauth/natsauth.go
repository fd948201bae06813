// Package natsauth turns deploy/nats/permissions.json, the one list of what
// each ml-connector service may do on NATS, into the accounts block of the
// NATS server configuration (deploy/nats/accounts.conf).
//
// The data file says what a service does in the terms of streams/
// (publish to these subjects, consume this durable, read these KV keys);
// this package derives the JetStream API subjects that takes, so that a
// service author never has to spell `$JS.API...` by hand. The deployment
// tests start a real cluster from the rendered file and prove each service
// can do its job and nothing else.
package natsauth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"unicode"
)

// Permissions is deploy/nats/permissions.json.
type Permissions struct {
	// Account holds every stream, bucket and service user.
	Account string `json:"account"`
	// SystemAccount is the NATS system account (server monitoring over NATS).
	SystemAccount string `json:"system_account"`
	// Operator is the user of the mlc CLI: everything in Account.
	Operator User `json:"operator"`
	// System is the one user of SystemAccount (nats server report ...).
	System User `json:"system"`
	// Services are the least-privilege users, one per service.
	Services []Service `json:"services"`
}

// User is a NATS user without restrictions inside its account.
type User struct {
	Name string `json:"name"`
	Why  string `json:"why"`
}

// Service is what one service does on NATS.
type Service struct {
	Name string `json:"name"`
	Why  string `json:"why"`
	// Publish lists the stream subjects the service writes (JetStream
	// publish with an ack).
	Publish []string `json:"publish"`
	// Streams are the streams whose info the service reads (readiness).
	Streams []string `json:"streams"`
	// Consumers are durable pull consumers it fetches from and acks on,
	// as "<STREAM>/<durable>" (the file layout of streams/).
	Consumers []string `json:"consumers"`
	// UpdateConsumers are durables (of Consumers) whose configuration it
	// may change (netsuite-writer sets its max_ack_pending to the NetSuite
	// concurrency budget). Creating consumers stays the operator's.
	UpdateConsumers []string `json:"update_consumers,omitempty"`
	// DirectGet are streams whose messages it may read by sequence or
	// subject (audit-mirror measures its lag by the oldest unmirrored one).
	DirectGet []string `json:"direct_get,omitempty"`
	// KV lists the buckets it uses and which keys.
	KV []KVGrant `json:"kv"`
	// MasterKey says the service decrypts credentials and so gets
	// MLC_MASTER_KEY; the deployment files must give it to exactly these.
	MasterKey bool `json:"master_key"`
}

// KVGrant is access to some keys of one bucket.
type KVGrant struct {
	Bucket string `json:"bucket"`
	// Keys are KV keys or key patterns (`commerce.*`, `cursor.>`, `>`).
	Keys []string `json:"keys"`
	// Write allows put, create, update and delete of those keys; reads
	// (get, watch) are always allowed.
	Write bool `json:"write"`
}

// ErrInvalid is returned for a permissions file that does not make sense.
var ErrInvalid = errors.New("natsauth: invalid permissions")

var (
	nameRe   = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)
	tokenRe  = regexp.MustCompile(`^[A-Za-z0-9_=/-]+$`)
	streamRe = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)
	bucketRe = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
)

// Load reads and checks a permissions file, strictly: an unknown field is
// an error, so a typo never silently drops a grant.
func Load(path string) (Permissions, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Permissions{}, err
	}
	return Parse(b)
}

// Parse decodes and checks a permissions file.
func Parse(b []byte) (Permissions, error) {
	var p Permissions
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return p, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if dec.More() {
		return p, fmt.Errorf("%w: trailing data after the object", ErrInvalid)
	}
	return p, p.Validate()
}

// Validate checks names and subjects.
func (p Permissions) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if !streamRe.MatchString(p.Account) || !streamRe.MatchString(p.SystemAccount) || p.Account == p.SystemAccount {
		bad("accounts %q and %q: want two different upper-case names", p.Account, p.SystemAccount)
	}
	seen := map[string]bool{}
	for _, u := range append([]User{p.Operator, p.System}, p.users()...) {
		if !nameRe.MatchString(u.Name) {
			bad("user name %q: want lower-case letters, digits and dashes", u.Name)
		}
		if seen[u.Name] {
			bad("user %q appears twice", u.Name)
		}
		// The reason becomes a comment line of the rendered config: a line
		// break would let it add configuration.
		if strings.ContainsFunc(u.Why, unicode.IsControl) {
			bad("user %q: why must be one line of text", u.Name)
		}
		seen[u.Name] = true
	}
	for _, s := range p.Services {
		for _, subj := range s.Publish {
			if err := checkPattern(subj); err != nil {
				bad("%s: publish %q: %v", s.Name, subj, err)
			}
			if strings.HasPrefix(subj, "$") || strings.HasPrefix(subj, "_INBOX") || subj == ">" {
				bad("%s: publish %q: only stream subjects belong here; API subjects are derived", s.Name, subj)
			}
		}
		for _, st := range append(append([]string(nil), s.Streams...), s.DirectGet...) {
			if !streamRe.MatchString(st) {
				bad("%s: stream %q", s.Name, st)
			}
		}
		for _, c := range s.Consumers {
			st, d, ok := strings.Cut(c, "/")
			if !ok || !streamRe.MatchString(st) || !tokenRe.MatchString(d) {
				bad("%s: consumer %q: want STREAM/durable", s.Name, c)
			}
		}
		for _, c := range s.UpdateConsumers {
			if !slices.Contains(s.Consumers, c) {
				bad("%s: update_consumers %q is not one of its consumers", s.Name, c)
			}
		}
		buckets := map[string]bool{}
		for _, g := range s.KV {
			if !bucketRe.MatchString(g.Bucket) {
				bad("%s: bucket %q", s.Name, g.Bucket)
			}
			if buckets[g.Bucket] {
				bad("%s: bucket %q listed twice", s.Name, g.Bucket)
			}
			buckets[g.Bucket] = true
			if len(g.Keys) == 0 {
				bad("%s: bucket %q: no keys", s.Name, g.Bucket)
			}
			for _, k := range g.Keys {
				if err := checkPattern(k); err != nil {
					bad("%s: bucket %q key %q: %v", s.Name, g.Bucket, k, err)
				}
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return nil
}

func (p Permissions) users() []User {
	out := make([]User, len(p.Services))
	for i, s := range p.Services {
		out[i] = User{Name: s.Name, Why: s.Why}
	}
	return out
}

// checkPattern accepts a NATS subject with wildcards: dot-separated
// non-empty tokens, '*' only as a whole token, '>' only as the last one.
func checkPattern(s string) error {
	if s == "" {
		return errors.New("empty")
	}
	toks := strings.Split(s, ".")
	for i, t := range toks {
		switch {
		case t == "":
			return errors.New("empty token")
		case t == ">":
			if i != len(toks)-1 {
				return errors.New("'>' must be the last token")
			}
		case t == "*":
		case strings.ContainsAny(t, "*> \t\r\n"):
			return fmt.Errorf("bad token %q", t)
		}
	}
	return nil
}

// Service returns the named service's entry.
func (p Permissions) Service(name string) (Service, bool) {
	for _, s := range p.Services {
		if s.Name == name {
			return s, true
		}
	}
	return Service{}, false
}

// NKeyVar is the environment variable holding a user's NKey public key in
// the server's environment, e.g. NATS_NKEY_NETSUITE_WRITER.
func NKeyVar(user string) string {
	return "NATS_NKEY_" + strings.ToUpper(strings.ReplaceAll(user, "-", "_"))
}

// InboxPrefix is the reply-subject prefix of a service's connection
// (pkg/stream.Connect names connections "mlc-<service>"). Each service may
// subscribe to its own inboxes only: with one shared `_INBOX.>` any service
// could read the replies sent to another, KV gets of credentials included.
func InboxPrefix(service string) string { return "_INBOX.mlc-" + service }

// Subjects are a user's allow lists.
type Subjects struct {
	Publish   []string
	Subscribe []string
}

// Subjects derives the NATS subjects a service needs for what it declares.
func (s Service) Subjects() Subjects {
	pub := append([]string(nil), s.Publish...)
	for _, st := range s.Streams {
		pub = append(pub, "$JS.API.STREAM.INFO."+st)
	}
	for _, c := range s.UpdateConsumers {
		st, d, _ := strings.Cut(c, "/")
		// An update is a create request on the durable's name (with its
		// filter in the subject): the durable must exist for "update".
		pub = append(pub, "$JS.API.CONSUMER.CREATE."+st+"."+d+".>")
	}
	for _, st := range s.DirectGet {
		pub = append(pub, "$JS.API.DIRECT.GET."+st, "$JS.API.DIRECT.GET."+st+".>")
	}
	for _, c := range s.Consumers {
		st, d, _ := strings.Cut(c, "/")
		pub = append(pub,
			"$JS.API.CONSUMER.INFO."+st+"."+d,
			"$JS.API.CONSUMER.MSG.NEXT."+st+"."+d,
			"$JS.ACK."+st+"."+d+".>",
		)
	}
	for _, g := range s.KV {
		kvStream := "KV_" + g.Bucket
		pub = append(pub, "$JS.API.STREAM.INFO."+kvStream)
		for _, k := range g.Keys {
			key := "$KV." + g.Bucket + "." + k
			// Get is a direct get with the key in the API subject, and a
			// watch an ordered consumer with its filter in the subject: the
			// server checks both against the request, so granting them per
			// key is what keeps a service to its own keys. The
			// unrestricted forms ($JS.API.DIRECT.GET.KV_b with a body,
			// STREAM.MSG.GET, CONSUMER.CREATE without a filter) are never
			// granted.
			pub = append(pub,
				"$JS.API.DIRECT.GET."+kvStream+"."+key,
				"$JS.API.CONSUMER.CREATE."+kvStream+".*."+key,
			)
			if g.Write {
				pub = append(pub, key)
			}
		}
		// A watcher's flow-control replies and its clean-up.
		pub = append(pub,
			"$JS.FC."+kvStream+".>",
			"$JS.API.CONSUMER.DELETE."+kvStream+".*",
		)
	}
	return Subjects{Publish: dedupe(pub), Subscribe: []string{InboxPrefix(s.Name) + ".>"}}
}

func dedupe(in []string) []string {
	seen := map[string]bool{}
	out := in[:0]
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// Render writes the NATS configuration of the accounts (deploy/nats/accounts.conf).
func (p Permissions) Render() []byte {
	var b bytes.Buffer
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	w("# GENERATED from permissions.json by `go generate ./natsauth` (in deploy/): do not edit by hand.\n")
	w("#\n")
	w("# One account holds the streams and buckets; each service has its own NKey user\n")
	w("# allowed only the subjects it needs. A user's public key comes from the server's\n")
	w("# environment variable named after it (scripts/gen-secrets.sh writes them).\n")
	w("# No user means no connection: there is no anonymous or default user.\n\n")
	w("system_account: %s\n\n", p.SystemAccount)
	w("accounts {\n")
	w("  %s {\n", p.Account)
	w("    jetstream: enabled\n")
	w("    users: [\n")
	w("      # %s: %s\n", p.Operator.Name, p.Operator.Why)
	w("      {nkey: $%s, permissions: {publish: {allow: [\">\"]}, subscribe: {allow: [\">\"]}}}\n", NKeyVar(p.Operator.Name))
	services := append([]Service(nil), p.Services...)
	sort.SliceStable(services, func(i, j int) bool { return services[i].Name < services[j].Name })
	for _, s := range services {
		subj := s.Subjects()
		w("\n      # %s: %s\n", s.Name, s.Why)
		w("      {\n")
		w("        nkey: $%s\n", NKeyVar(s.Name))
		w("        permissions: {\n")
		w("          publish: {allow: [\n")
		for _, x := range subj.Publish {
			w("            %q\n", x)
		}
		w("          ]}\n")
		w("          subscribe: {allow: [\n")
		for _, x := range subj.Subscribe {
			w("            %q\n", x)
		}
		w("          ]}\n")
		w("        }\n")
		w("      }\n")
	}
	w("    ]\n")
	w("  }\n")
	w("  %s {\n", p.SystemAccount)
	w("    users: [\n")
	w("      # %s: %s\n", p.System.Name, p.System.Why)
	w("      {nkey: $%s}\n", NKeyVar(p.System.Name))
	w("    ]\n")
	w("  }\n")
	w("}\n")
	return b.Bytes()
}

// Users lists every user name: operator, system, then the services.
func (p Permissions) Users() []string {
	out := []string{p.Operator.Name, p.System.Name}
	for _, s := range p.Services {
		out = append(out, s.Name)
	}
	return out
}
