// Package stream is ml-connector's JetStream plumbing: connecting,
// provisioning streams/consumers/buckets from streams/, and the consume loop
// with retry and dead-lettering every service uses.
package stream

import (
	"fmt"
	neturl "net/url"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
)

// Connect dials NATS with reconnects that never give up (a service outlives
// a NATS restart) and logs connection changes. creds may be empty; extra
// options (Security.Options) come last.
//
// Replies go to inboxes under _INBOX.<name>: in production each service
// user may subscribe to its own inboxes only (deploy/nats/permissions.json),
// so that no service can read the replies, KV gets of credentials included,
// sent to another.
func Connect(url, creds, name string, log zerolog.Logger, extra ...nats.Option) (*nats.Conn, jetstream.JetStream, error) {
	opts := []nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(500 * time.Millisecond),
		nats.ReconnectJitter(250*time.Millisecond, time.Second),
		nats.RetryOnFailedConnect(true),
		// No reconnect buffer: a publish while disconnected fails at once
		// instead of being sent later, after its caller gave up and told
		// the sender (Commerce) it failed.
		nats.ReconnectBufSize(-1),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			log.Warn().Err(err).Msg("nats disconnected")
		}),
		nats.ReconnectHandler(func(c *nats.Conn) {
			log.Info().Str("url", c.ConnectedUrlRedacted()).Msg("nats reconnected")
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			ev := log.Error().Err(err)
			if sub != nil {
				ev = ev.Str("subject", sub.Subject)
			}
			ev.Msg("nats async error")
		}),
	}
	if creds != "" {
		opts = append(opts, nats.UserCredentials(creds))
	}
	if name != "" && !strings.ContainsAny(name, "*> \t\r\n") && !strings.HasSuffix(name, ".") {
		opts = append(opts, nats.CustomInboxPrefix("_INBOX."+name))
	}
	opts = append(opts, extra...)
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		shown, secrets := redactURLs(url)
		return nil, nil, fmt.Errorf("connect nats %s: %w", shown, scrubbed{err, secrets})
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("jetstream: %w", err)
	}
	return nc, js, nil
}

// Security is how a connection proves who it is and checks the server:
// files a deployment mounts (README, "Deploy"). Empty fields are unused.
type Security struct {
	NKeyFile string // NKey seed of the user (scripts/gen-secrets.sh)
	CAFile   string // CA that signed the NATS server certificates
	CertFile string // client certificate, for servers that verify clients
	KeyFile  string // its private key
}

// SecurityFromEnv reads Security from the variables services read into
// service.Base: MLC_NATS_NKEY_FILE, MLC_NATS_TLS_CA, MLC_NATS_TLS_CERT,
// MLC_NATS_TLS_KEY (the operator CLI, which has no Base, uses it).
func SecurityFromEnv(getenv func(string) string) Security {
	return Security{
		NKeyFile: getenv("MLC_NATS_NKEY_FILE"),
		CAFile:   getenv("MLC_NATS_TLS_CA"),
		CertFile: getenv("MLC_NATS_TLS_CERT"),
		KeyFile:  getenv("MLC_NATS_TLS_KEY"),
	}
}

// Options returns the nats.go options for s; a file that cannot be read
// is an error now rather than a reconnect loop later.
func (s Security) Options() ([]nats.Option, error) {
	var opts []nats.Option
	if s.NKeyFile != "" {
		o, err := nats.NkeyOptionFromSeed(s.NKeyFile)
		if err != nil {
			return nil, fmt.Errorf("nats nkey %s: %w", s.NKeyFile, err)
		}
		opts = append(opts, o)
	}
	if s.CAFile != "" {
		opts = append(opts, nats.RootCAs(s.CAFile))
	}
	if (s.CertFile == "") != (s.KeyFile == "") {
		return nil, fmt.Errorf("nats tls: give both the client certificate and its key, or neither")
	}
	if s.CertFile != "" {
		opts = append(opts, nats.ClientCert(s.CertFile, s.KeyFile))
	}
	return opts, nil
}

// redactURLs hides the passwords and tokens of a comma-separated server
// list, for error texts, and returns what it hid so the client library's
// own error text can be scrubbed too. A part that does not parse is hidden
// whole.
func redactURLs(list string) (shown string, secrets []string) {
	parts := strings.Split(list, ",")
	for i, p := range parts {
		u, err := neturl.Parse(strings.TrimSpace(p))
		switch {
		case err != nil:
			secrets = append(secrets, strings.TrimSpace(p))
			parts[i] = "<unparsable url>"
		case u.User != nil:
			if pass, hasPass := u.User.Password(); hasPass {
				secrets = append(secrets, pass)
			} else {
				secrets = append(secrets, u.User.Username()) // a bare token
				u.User = neturl.User("xxxxx")
			}
			parts[i] = u.Redacted()
		default:
			parts[i] = u.String()
		}
	}
	return strings.Join(parts, ","), secrets
}

// scrubbed is an error whose text has the given secrets replaced; it still
// unwraps to the original for errors.Is.
type scrubbed struct {
	err     error
	secrets []string
}

func (e scrubbed) Error() string {
	msg := e.err.Error()
	for _, s := range e.secrets {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, "xxxxx")
		}
	}
	return msg
}

func (e scrubbed) Unwrap() error { return e.err }
