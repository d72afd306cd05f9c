package winreg

import (
	"strings"

	"github.com/sondehq/sonde/internal/safetext"
)

// User is a Windows account whose registry hive is loaded under HKU: one
// that is logged on (or runs a process). The hives of accounts that are
// not are files nobody here opens.
type User struct {
	SID  string
	Name string // the profile folder's name, else the SID
}

// MaxUsers bounds the accounts Users lists.
const MaxUsers = 32

// Users lists the people's accounts under HKU: local and domain accounts
// (S-1-5-21-...) and Entra ID ones (S-1-12-1-...), not their _Classes
// hives nor the service accounts. Each is named after its profile folder
// (ProfileList's ProfileImagePath). Both names are cleaned for display.
func Users(reg Reader) []User {
	sids, err := reg.Subkeys(`HKU`)
	if err != nil {
		return nil
	}
	var out []User
	for _, sid := range sids {
		up := strings.ToUpper(sid)
		if !strings.HasPrefix(up, "S-1-5-21-") && !strings.HasPrefix(up, "S-1-12-1-") || strings.HasSuffix(up, "_CLASSES") {
			continue
		}
		if len(out) == MaxUsers {
			break
		}
		u := User{SID: safetext.Clean(sid, 184), Name: safetext.Clean(sid, 184)}
		if v, err := reg.Values(`HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion\ProfileList\` + sid); err == nil {
			if p := v["ProfileImagePath"].Text(); p != "" {
				u.Name = safetext.Clean(p[strings.LastIndexAny(p, `\/`)+1:], 64)
			}
		}
		out = append(out, u)
	}
	return out
}
