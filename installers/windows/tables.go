package windows

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// What wixl 0.101 (Debian 12's) cannot express, added to its MSI with
// msibuild (msitools too), each checked by trying it:
//   - the enrollment component's condition: wixl refuses a Condition in
//     a Component ("unhandled child Component node Condition");
//   - COLLECTOR, TOKEN and CAPIN in SecureCustomProperties: wixl ignores
//     Property/@Secure and writes SecureCustomProperties itself;
//   - the Upgrade rows: wixl's MajorUpgrade takes DowngradeErrorMessage
//     only, not AllowSameVersionUpgrades, which builds between tags need
//     (see productVersion);
//   - the service's vital flag: wixl ignores ServiceInstall/@Vital;
//   - the access list of HKLM\SOFTWARE\Sonde\Enroll, SYSTEM and
//     Administrators only, in MsiLockPermissionsEx: wixl refuses Permission
//     (and every util: element, so util:PermissionEx and util:ServiceConfig
//     too; the agent sets its own recovery actions instead);
//   - the summary information's package code and dates, which wixl takes
//     from a random GUID and the clock.

// enrollCondition installs the enrollment component.
const enrollCondition = "COLLECTOR AND TOKEN AND CAPIN"

// secureProperties go from the client to the installing service.
const secureProperties = "CAPIN;COLLECTOR;TOKEN;WIX_DOWNGRADE_DETECTED;WIX_UPGRADE_DETECTED"

// enrollSDDL is the enrollment key's access list: protected (nothing
// inherited), full control for SYSTEM and Administrators, passed to its
// subkeys.
const enrollSDDL = "D:P(A;CI;KA;;;SY)(A;CI;KA;;;BA)"

// vitalService is ServiceInstall.ErrorControl: normal (1), and vital
// (0x8000): the install fails and rolls back if the service cannot be
// installed.
const vitalService = 0x8000 | 1

// Upgrade table attributes.
const (
	upgradeMigrateFeatures = 0x1
	upgradeOnlyDetect      = 0x2
	upgradeMaxInclusive    = 0x200
)

// addTables adds to the MSI at path what wixl cannot express, with
// msibuild; work is a folder for the tables imported. packageCode is the
// summary information's revision number.
func addTables(ctx context.Context, path, work string, p product, packageCode string, epoch time.Time) error {
	base := p.Version
	if f := strings.Split(base, "."); len(f) == 4 {
		base = strings.Join(f[:3], ".") // Upgrade rows compare three fields
	}
	idts := map[string]string{
		"Upgrade.idt": idt([]string{"UpgradeCode", "VersionMin", "VersionMax", "Language", "Attributes", "Remove", "ActionProperty"},
			[]string{"s38", "S20", "S20", "S255", "i4", "S255", "s72"}, "Upgrade", []string{"UpgradeCode", "VersionMin", "VersionMax", "Language", "Attributes"},
			// Every version up to this one (builds of this version too) is replaced;
			// a newer one is detected, and the launch condition of MajorUpgrade refuses it.
			[]string{p.UpgradeCode, "", base, "", fmt.Sprint(upgradeMigrateFeatures | upgradeMaxInclusive), "", "WIX_UPGRADE_DETECTED"},
			[]string{p.UpgradeCode, base, "", "", fmt.Sprint(upgradeOnlyDetect), "", "WIX_DOWNGRADE_DETECTED"}),
		"MsiLockPermissionsEx.idt": idt([]string{"MsiLockPermissionsEx", "LockObject", "Table", "SDDLText", "Condition"},
			[]string{"s72", "s72", "s32", "s0", "S255"}, "MsiLockPermissionsEx", []string{"MsiLockPermissionsEx"},
			[]string{"EnrollKey", enrollKeyPath, "Registry", enrollSDDL, ""}),
		"_SummaryInformation.idt": idt([]string{"PropertyId", "Value"}, []string{"i2", "l255"}, "_SummaryInformation", []string{"PropertyId"},
			summary(p, packageCode, epoch)...),
	}
	args := []string{path,
		"-q", fmt.Sprintf("UPDATE `Component` SET `Condition` = '%s' WHERE `Component` = '%s'", enrollCondition, enrollComponent),
		"-q", fmt.Sprintf("UPDATE `Property` SET `Value` = '%s' WHERE `Property` = 'SecureCustomProperties'", secureProperties),
		"-q", fmt.Sprintf("UPDATE `ServiceInstall` SET `ErrorControl` = %d WHERE `ServiceInstall` = '%s'", vitalService, serviceRow),
		"-i"}
	for _, name := range []string{"Upgrade.idt", "MsiLockPermissionsEx.idt", "_SummaryInformation.idt"} {
		if err := os.WriteFile(filepath.Join(work, name), []byte(idts[name]), 0o644); err != nil {
			return fmt.Errorf("adding tables: %w", err)
		}
		args = append(args, filepath.Join(work, name))
	}
	if err := tool(ctx, work, "msibuild", args...); err != nil {
		return fmt.Errorf("adding tables: %w", err)
	}
	return nil
}

// summary is the summary information of p's MSI.
func summary(p product, packageCode string, epoch time.Time) [][]string {
	date := epoch.UTC().Format("2006/01/02 15:04:05") // read as local time: msibuild runs with TZ=UTC
	return [][]string{
		{"1", "1252"},                  // code page
		{"2", "Installation Database"}, // title
		{"3", "Sonde agent " + p.Release},
		{"4", "Sonde"},
		{"5", "Installer"},
		{"6", "The Sonde diagnostics agent, as the " + serviceName + " service."},
		{"7", "x64;1033"},  // platform and language
		{"9", packageCode}, // the package code
		{"12", date},       // created
		{"13", date},       // last saved
		{"14", "500"},      // Windows Installer 5.0
		{"15", "2"},        // compressed, long file names
		{"18", "wixl (msitools)"},
		{"19", "2"}, // read-only recommended
	}
}

// idt is a table in Windows Installer's text format, which msibuild
// imports: column names, column types, the table and its keys, then rows.
// Values hold no tab or line break.
func idt(columns, types []string, table string, keys []string, rows ...[]string) string {
	lines := []string{strings.Join(columns, "\t"), strings.Join(types, "\t"), strings.Join(append([]string{table}, keys...), "\t")}
	for _, r := range rows {
		lines = append(lines, strings.Join(r, "\t"))
	}
	return strings.Join(lines, "\r\n") + "\r\n"
}

// tool runs one of msitools' programs in dir, in UTC (msibuild reads dates
// as local time; gcab writes the cabinet's file times in local time). Its
// warnings are errors: wixl warns of what it ignores.
func tool(ctx context.Context, dir, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "TZ=UTC")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err == nil && strings.TrimSpace(out.String()) != "" {
		err = fmt.Errorf("it said something")
	}
	if err != nil {
		return fmt.Errorf("%s: %w: %s", name, err, strings.TrimSpace(out.String()))
	}
	return nil
}
