package probe

import "github.com/sondehq/sonde/agent/probe/winreg"

// winUser is a Windows account whose registry hive is loaded under HKU
// (see winreg.Users, which the proxy settings reader shares).
type winUser = winreg.User

// windowsUsers lists the people's accounts under HKU.
func windowsUsers(reg winreg.Reader) []winUser { return winreg.Users(reg) }
