package proxy

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/sondehq/sonde/agent/probe/winreg"
	"github.com/sondehq/sonde/agent/proxy/sysproxy"
	"github.com/sondehq/sonde/internal/limitfile"
)

// Bounds of the Linux files LoadSystem reads.
const (
	maxSystemFile = 256 << 10
	maxDirFiles   = 64
)

// linuxSystem reads the Linux settings under the folder etc (/etc, or a
// fixture's): systemd's DefaultEnvironment, /etc/environment and
// /etc/profile.d, each one place (see System).
func linuxSystem(etc string) *System {
	s := &System{}
	read := func(path string, parse func(string, []byte) []sysproxy.Setting) []sysproxy.Setting {
		b, err := limitfile.Read(path, maxSystemFile)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				s.problem("%v", err)
			}
			return nil
		}
		return parse("/etc/"+filepath.ToSlash(strings.TrimPrefix(path, etc+string(filepath.Separator))), b)
	}
	readDir := func(dir, suffix string, parse func(string, []byte) []sysproxy.Setting) []sysproxy.Setting {
		entries, err := os.ReadDir(dir)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			s.problem("listing %s: %v", dir, err)
		}
		var names []string
		for _, e := range entries {
			if strings.HasSuffix(e.Name(), suffix) && !strings.HasPrefix(e.Name(), ".") && e.Type().IsRegular() {
				names = append(names, e.Name())
			}
		}
		sort.Strings(names) // the order they are read in; later ones override
		if len(names) > maxDirFiles {
			s.problem("%s: only the first %d of %d files read", dir, maxDirFiles, len(names))
			names = names[:maxDirFiles]
		}
		var out []sysproxy.Setting
		for _, n := range names {
			out = append(out, read(filepath.Join(dir, n), parse)...)
		}
		return out
	}
	systemd := read(filepath.Join(etc, "systemd", "system.conf"), sysproxy.Systemd)
	systemd = append(systemd, readDir(filepath.Join(etc, "systemd", "system.conf.d"), ".conf", sysproxy.Systemd)...)
	s.envRule(systemd)
	s.envRule(read(filepath.Join(etc, "environment"), sysproxy.Shell))
	s.envRule(readDir(filepath.Join(etc, "profile.d"), ".sh", sysproxy.Shell))
	return s
}

// windowsSystem reads the Windows settings from reg: WinHTTP's, the
// machine's, then each logged-on user's, each one place (see System).
func windowsSystem(reg winreg.Reader) *System {
	s := &System{}
	settings, errs := sysproxy.Windows(reg)
	for _, err := range errs {
		s.problem("%v", err)
	}
	var order []string
	places := map[string][]sysproxy.Setting{}
	for _, x := range settings {
		key := "user " + x.User
		switch {
		case x.Source == sysproxy.WinHTTPSource:
			key = "0 WinHTTP"
		case x.User == sysproxy.MachineUser:
			key = "1 machine"
		}
		if _, ok := places[key]; !ok {
			order = append(order, key)
		}
		places[key] = append(places[key], x)
	}
	// WinHTTP, then the machine, then the users in the order listed.
	sort.SliceStable(order, func(i, j int) bool { return rank(order[i]) < rank(order[j]) })
	for _, key := range order {
		s.listRule(places[key])
	}
	return s
}

// rank orders windowsSystem's places.
func rank(key string) int {
	switch key {
	case "0 WinHTTP":
		return 0
	case "1 machine":
		return 1
	}
	return 2
}

// darwinSystem reads macOS's network preferences (sysproxy.Preferences),
// or says why it could not.
func darwinSystem(b []byte, readErr error) *System {
	s := &System{}
	if readErr != nil {
		s.problem("%s: %v", sysproxy.PreferencesSource, readErr)
		return s
	}
	settings, err := sysproxy.Preferences(b)
	if err != nil {
		s.problem("%v", err)
	}
	s.listRule(settings)
	return s
}
