package settings_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ml-connector/ml-connector/pkg/event"
	"github.com/ml-connector/ml-connector/pkg/natstest"
	"github.com/ml-connector/ml-connector/pkg/settings"
	"github.com/ml-connector/ml-connector/pkg/stream"
)

type doc struct {
	Location string `json:"location"`
	Buffer   int    `json:"buffer"`
}

func (d *doc) Validate() error {
	if d.Buffer < 0 {
		return errors.New("buffer must not be negative")
	}
	return nil
}

func open(t *testing.T) *settings.Store {
	t.Helper()
	_, js := natstest.Connect(t, natstest.RunServer(t))
	sel := &stream.Selection{Buckets: []string{event.BucketSettings}}
	if _, err := stream.ApplyDeclared(context.Background(), js, sel); err != nil {
		t.Fatal(err)
	}
	s, err := settings.Open(context.Background(), js)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestLoadSaveDefaultsAndStrictness(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	d := &doc{Location: "1", Buffer: 2}
	if err := s.Load(ctx, "inventory", d); !errors.Is(err, settings.ErrNotFound) || d.Location != "1" {
		t.Fatalf("unset key: %v %+v", err, d)
	}
	if err := s.Save(ctx, "inventory", &doc{Buffer: -1}); err == nil {
		t.Fatal("invalid document saved")
	}
	if err := s.Save(ctx, "inventory", &doc{Location: "7"}); err != nil {
		t.Fatal(err)
	}
	got := &doc{Buffer: 5}
	if err := s.Load(ctx, "inventory", got); err != nil || got.Location != "7" || got.Buffer != 0 {
		t.Fatalf("load: %v %+v", err, got)
	}
	for _, bad := range []string{`{"locaton":"1"}`, `{"buffer":-3}`, `{"buffer":1} {}`, `[`} {
		if err := settings.Decode("k", []byte(bad), &doc{}); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	keys, err := s.Keys(ctx)
	if err != nil || strings.Join(keys, ",") != "inventory" {
		t.Fatalf("keys %v %v", keys, err)
	}
}

func TestWatch(t *testing.T) {
	s := open(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type upd struct {
		d       doc
		deleted bool
		err     error
	}
	ch := make(chan upd, 10)
	go func() {
		_ = settings.Watch(ctx, s, "inventory", func() *doc { return &doc{Buffer: 9} }, func(d *doc, deleted bool, err error) {
			ch <- upd{*d, deleted, err}
		})
	}()
	next := func() upd {
		select {
		case u := <-ch:
			return u
		case <-time.After(10 * time.Second):
			t.Fatal("no update")
			return upd{}
		}
	}
	if err := s.Save(context.Background(), "inventory", &doc{Location: "3"}); err != nil {
		t.Fatal(err)
	}
	if u := next(); u.err != nil || u.d.Location != "3" {
		t.Fatalf("update %+v", u)
	}
	if err := s.Delete(context.Background(), "inventory"); err != nil {
		t.Fatal(err)
	}
	if u := next(); !u.deleted || u.d.Buffer != 9 {
		t.Fatalf("delete gives the defaults: %+v", u)
	}
}
