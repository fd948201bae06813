package audit

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var updateSchema = flag.Bool("update-schema", false, "rewrite deploy/clickhouse/*.sql from the code")

// deploy/clickhouse documents the DDL Migrate runs; this keeps it true.
// After a schema change: go test ./audit/ -run TestSchemaDoc -update-schema
func TestSchemaDoc(t *testing.T) {
	for file, d := range map[string]Dialect{
		"schema-current.sql": {Version{24, 8}},
		"schema-18.16.sql":   {Version{18, 16}},
	} {
		path := filepath.Join("..", "..", "deploy", "clickhouse", file)
		want := "-- Generated from pkg/audit (Dialect.Schema, database mlc, retention 365 days); the audit-mirror\n" +
			"-- runs the same DDL at start. Regenerate: go test ./pkg/audit/ -run TestSchemaDoc -update-schema\n\n" +
			d.Schema(DefaultDatabase, 365)
		if *updateSchema {
			if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != want {
			t.Errorf("%s is out of date: go test ./audit/ -run TestSchemaDoc -update-schema", path)
		}
	}
}
