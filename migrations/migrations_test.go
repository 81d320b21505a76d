package migrations

import (
	"strings"
	"testing"
	"testing/fstest"
)

func TestListDialectsAgree(t *testing.T) {
	sqlite, pg := List("sqlite"), List("postgres")
	if len(sqlite) == 0 {
		t.Fatal("no sqlite migrations")
	}
	if len(sqlite) != len(pg) {
		t.Fatalf("sqlite has %d migrations, postgres %d", len(sqlite), len(pg))
	}
	for i := range sqlite {
		s, p := sqlite[i], pg[i]
		if s.Version != i+1 || p.Version != i+1 {
			t.Errorf("migration %d: versions sqlite=%d postgres=%d", i, s.Version, p.Version)
		}
		if s.Name != p.Name {
			t.Errorf("version %d: names differ: sqlite %q, postgres %q", s.Version, s.Name, p.Name)
		}
		if strings.TrimSpace(s.SQL) == "" || strings.TrimSpace(p.SQL) == "" {
			t.Errorf("version %d: empty SQL", s.Version)
		}
	}
}

func TestListUnknownDialect(t *testing.T) {
	if got := List("mysql"); got != nil {
		t.Fatalf("List(mysql) = %v, want nil", got)
	}
}

func TestListReturnsCopy(t *testing.T) {
	a := List("sqlite")
	a[0].SQL = "changed"
	if List("sqlite")[0].SQL == "changed" {
		t.Fatal("List shares its slice with callers")
	}
}

func TestLoadRejectsBadNames(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
	}{
		{"no name", map[string]string{"d/0001.sql": "x"}},
		{"not a number", map[string]string{"d/abcd_init.sql": "x"}},
		{"zero", map[string]string{"d/0000_init.sql": "x"}},
		{"gap", map[string]string{"d/0001_a.sql": "x", "d/0003_c.sql": "x"}},
		{"duplicate", map[string]string{"d/0001_a.sql": "x", "d/01_b.sql": "x"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fsys := fstest.MapFS{}
			for n, s := range tc.files {
				fsys[n] = &fstest.MapFile{Data: []byte(s)}
			}
			if _, err := load(fsys, "d"); err == nil {
				t.Fatal("load accepted a bad migration set")
			}
		})
	}
}

func TestLoadSorts(t *testing.T) {
	fsys := fstest.MapFS{
		"d/0002_b.sql": {Data: []byte("B")},
		"d/0001_a.sql": {Data: []byte("A")},
		"d/0010_j.sql": {Data: []byte("J")},
		"d/README":     {Data: []byte("ignored")},
		"d/0003_c.sql": {Data: []byte("C")},
		"d/0004_d.sql": {Data: []byte("D")},
		"d/0005_e.sql": {Data: []byte("E")},
		"d/0006_f.sql": {Data: []byte("F")},
		"d/0007_g.sql": {Data: []byte("G")},
		"d/0008_h.sql": {Data: []byte("H")},
		"d/0009_i.sql": {Data: []byte("I")},
	}
	ms, err := load(fsys, "d")
	if err != nil {
		t.Fatal(err)
	}
	var got string
	for _, m := range ms {
		got += m.SQL
	}
	if got != "ABCDEFGHIJ" {
		t.Fatalf("order = %q", got)
	}
}
