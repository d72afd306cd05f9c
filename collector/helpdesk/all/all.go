// Package all registers every helpdesk connector: the collector imports it
// for its side effects.
package all

import (
	_ "github.com/sondehq/sonde/collector/helpdesk/rt" // Request Tracker 5
)
