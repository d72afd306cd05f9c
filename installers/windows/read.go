package windows

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
)

// readTable returns the rows of an MSI's table as msiinfo exports it,
// each by column name.
func readTable(ctx context.Context, msi, table string) ([]map[string]string, error) {
	out, err := exec.CommandContext(ctx, "msiinfo", "export", msi, table).Output()
	if err != nil {
		return nil, fmt.Errorf("reading table %s: msiinfo: %w", table, err)
	}
	lines := strings.Split(strings.TrimRight(string(out), "\r\n"), "\r\n")
	if len(lines) < 3 {
		return nil, fmt.Errorf("reading table %s: msiinfo exported %d lines", table, len(lines))
	}
	columns := strings.Split(lines[0], "\t")
	var rows []map[string]string
	for _, l := range lines[3:] {
		r := map[string]string{}
		for i, v := range strings.Split(l, "\t") {
			if i < len(columns) {
				r[columns[i]] = v
			}
		}
		rows = append(rows, r)
	}
	return rows, nil
}

// checkTables reads back what addTables wrote: msibuild says nothing of an
// UPDATE that matched no row.
func checkTables(ctx context.Context, msi string, packageCode string) error {
	for _, c := range []struct{ table, key, keyValue, column, want string }{
		{"Component", "Component", enrollComponent, "Condition", enrollCondition},
		{"Property", "Property", "SecureCustomProperties", "Value", secureProperties},
		{"ServiceInstall", "ServiceInstall", serviceRow, "ErrorControl", fmt.Sprint(vitalService)},
		{"MsiLockPermissionsEx", "LockObject", enrollKeyPath, "SDDLText", enrollSDDL},
		{"Upgrade", "ActionProperty", "WIX_UPGRADE_DETECTED", "Attributes", fmt.Sprint(upgradeMigrateFeatures | upgradeMaxInclusive)},
		{"_SummaryInformation", "PropertyId", "9", "Value", packageCode},
	} {
		rows, err := readTable(ctx, msi, c.table)
		if err != nil {
			return err
		}
		found := false
		for _, r := range rows {
			if r[c.key] == c.keyValue {
				found = r[c.column] == c.want
			}
		}
		if !found {
			return fmt.Errorf("the MSI lacks %s %s=%s with %s %q", c.table, c.key, c.keyValue, c.column, c.want)
		}
	}
	return nil
}
