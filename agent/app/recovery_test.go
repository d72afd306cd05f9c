package app

import (
	"testing"
	"time"
)

func TestHasRecovery(t *testing.T) {
	restart := func(d time.Duration) recoveryAction { return recoveryAction{restart: true, delay: d} }
	want := []recoveryAction{restart(5 * time.Second), restart(30 * time.Second), restart(time.Minute)}
	if !hasRecovery(want, 24*time.Hour) {
		t.Error("the wanted actions are not recognised")
	}
	for name, c := range map[string]struct {
		actions []recoveryAction
		reset   time.Duration
	}{
		"none (a new service)":   {nil, 0},
		"another reset period":   {want, time.Hour},
		"one action short":       {want[:2], 24 * time.Hour},
		"another delay":          {[]recoveryAction{restart(5 * time.Second), restart(30 * time.Second), restart(2 * time.Minute)}, 24 * time.Hour},
		"not a restart (reboot)": {[]recoveryAction{restart(5 * time.Second), restart(30 * time.Second), {delay: time.Minute}}, 24 * time.Hour},
	} {
		if hasRecovery(c.actions, c.reset) {
			t.Errorf("%s: taken for the wanted actions", name)
		}
	}
}
