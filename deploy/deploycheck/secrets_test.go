package deploycheck

import (
	"bufio"
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"maps"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/ml-connector/ml-connector/deploy/natsauth"
	"github.com/ml-connector/ml-connector/pkg/freeport"
	"github.com/ml-connector/ml-connector/pkg/secrets"
)

// TestGenSecretsScript runs scripts/gen-secrets.sh as a platform engineer
// would and checks what it made: a key per user of permissions.json with
// the matching public key in nats.env, a certificate the shipped NATS
// configuration serves and clients verify, a usable master key, modes
// that keep other host users out, and a second run that changes nothing.
func TestGenSecretsScript(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("openssl is missing; scripts/gen-secrets.sh needs it")
		}
		t.Skip("openssl is missing; scripts/gen-secrets.sh needs it")
	}
	out := filepath.Join(t.TempDir(), "secrets")
	run := func() string {
		cmd := exec.Command(repo(t, "scripts", "gen-secrets.sh"), out)
		cmd.Env = append(os.Environ(), "MLC_NATS_SANS=DNS:nats.example.com")
		b, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("gen-secrets.sh: %v\n%s", err, b)
		}
		return string(b)
	}
	first := run()
	before := snapshot(t, out)

	perms := loadPermissions(t)
	env := readEnvFile(t, filepath.Join(out, "nats.env"))
	for _, u := range perms.Users() {
		seed, err := os.ReadFile(filepath.Join(out, "nkeys", u+".nk"))
		if err != nil {
			t.Fatalf("no seed for %s: %v", u, err)
		}
		kp, err := nkeys.FromSeed(bytes.TrimSpace(seed))
		if err != nil {
			t.Fatalf("%s: %v", u, err)
		}
		pub, _ := kp.PublicKey()
		if env[natsauth.NKeyVar(u)] != pub {
			t.Errorf("nats.env %s = %q, the seed's public key is %s", natsauth.NKeyVar(u), env[natsauth.NKeyVar(u)], pub)
		}
	}
	if len(env) != len(perms.Users()) {
		t.Errorf("nats.env has %d keys for %d users", len(env), len(perms.Users()))
	}
	mk, err := os.ReadFile(filepath.Join(out, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := secrets.ParseMasterKey(string(mk)); err != nil {
		t.Errorf("master.key: %v", err)
	}
	if strings.Contains(first, strings.TrimSpace(string(mk))) {
		t.Error("the script printed the master key")
	}

	ca := readCert(t, filepath.Join(out, "tls", "ca.pem"))
	cert := readCert(t, filepath.Join(out, "tls", "server.pem"))
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	for _, name := range []string{"nats-1", "nats-3", "localhost", "nats.nats.svc", "nats.nats.svc.cluster.local", "nats-0.nats-headless", "nats-2.nats-headless.nats.svc.cluster.local", "nats.example.com"} {
		if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, DNSName: name, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
			t.Errorf("server certificate for %s: %v", name, err)
		}
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("server certificate as a route's client certificate: %v", err)
	}
	for path, want := range map[string]os.FileMode{out: 0o700, filepath.Join(out, "tls", "ca-key.pem"): 0o600} {
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v (%v)", path, fi.Mode().Perm(), want, err)
		}
	}

	if second := run(); strings.Contains(second, "created") {
		t.Errorf("a second run created files:\n%s", second)
	}
	if after := snapshot(t, out); !maps.Equal(before, after) {
		t.Error("a second run changed files")
	}

	// The shipped configuration serves the script's certificate and knows
	// the script's users.
	for k, v := range env {
		t.Setenv(k, v)
	}
	opts := shippedNodeOptions(t, filepath.Join(out, "tls"))
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	if !s.ReadyForConnections(wait) {
		t.Fatal("server not ready")
	}
	nkey, err := nats.NkeyOptionFromSeed(filepath.Join(out, "nkeys", "ingest.nk"))
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(fmt.Sprintf("tls://localhost:%d", opts.Port), nkey, nats.RootCAs(filepath.Join(out, "tls", "ca.pem")))
	if err != nil {
		t.Fatalf("ingest with the script's key and CA: %v", err)
	}
	defer nc.Close()
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
}

// shippedNodeOptions is deploy/nats/nats-1.conf with certificates from dir,
// on loopback ports, as a lone node (its routes lead nowhere).
func shippedNodeOptions(t *testing.T, tlsDir string) *server.Options {
	t.Helper()
	etc := t.TempDir()
	for _, f := range []string{"nats-1.conf", "cluster.conf", "accounts.conf"} {
		b, err := os.ReadFile(repo(t, "deploy", "nats", f))
		if err != nil {
			t.Fatal(err)
		}
		b = bytes.ReplaceAll(b, []byte("/etc/nats-tls/"), []byte(tlsDir+"/"))
		if err := os.WriteFile(filepath.Join(etc, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	opts, err := server.ProcessConfigFile(filepath.Join(etc, "nats-1.conf"))
	if err != nil {
		t.Fatal(err)
	}
	addr, err := freeport.Addr()
	if err != nil {
		t.Fatal(err)
	}
	_, p, _ := net.SplitHostPort(addr)
	opts.Port, _ = strconv.Atoi(p)
	opts.Host, opts.HTTPPort = "127.0.0.1", 0
	opts.Cluster.Host, opts.Cluster.Port = "127.0.0.1", -1
	opts.Routes = []*url.URL{}
	opts.JetStream = false
	opts.NoLog, opts.NoSigs = true, true
	return opts
}

func readEnvFile(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("%s: bad line %q", path, line)
		}
		env[k] = v
	}
	return env
}

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		t.Fatalf("%s: no PEM", path)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		out[path] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
