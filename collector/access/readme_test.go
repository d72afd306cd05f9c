package access_test

import (
	"testing"

	"github.com/sondehq/sonde/internal/roletable"
)

// TestReadmeRoleTable holds the README's role table to the code: every
// operation is there with its least role, its API route and whether it is
// audited, and nothing else is.
func TestReadmeRoleTable(t *testing.T) {
	rows, err := roletable.Read("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	routeOf := map[string]string{}
	for route, d := range apiDoors {
		routeOf[ops[d.op].Name] = route
	}
	for _, op := range ops {
		row, ok := rows[op.Name]
		if !ok {
			t.Errorf("README's role table has no row for %s", op.Name)
			continue
		}
		delete(rows, op.Name)
		role, route, audited := row.Role, row.API, row.Audited
		if role != op.Role {
			t.Errorf("README: %s needs %s; the code says %s", op.Name, role, op.Role)
		}
		if route != routeOf[op.Name] {
			t.Errorf("README: %s is reached at %q; the code routes it at %q", op.Name, route, routeOf[op.Name])
		}
		want := "no"
		switch {
		case op.Audit:
			want = "yes"
		case op.Evidence:
			want = "with evidence"
		}
		if audited != want {
			t.Errorf("README: %s audited %q, the code says %q", op.Name, audited, want)
		}
	}
	for name := range rows {
		t.Errorf("README's role table has %s, which the code does not", name)
	}
}
