// Package all registers every helpdesk connector: the collector imports it
// for its side effects.
package all

import (
	_ "github.com/sondehq/sonde/collector/helpdesk/glpi"       // GLPI
	_ "github.com/sondehq/sonde/collector/helpdesk/jira"       // Jira Service Management
	_ "github.com/sondehq/sonde/collector/helpdesk/redmine"    // Redmine
	_ "github.com/sondehq/sonde/collector/helpdesk/rt"         // Request Tracker 5
	_ "github.com/sondehq/sonde/collector/helpdesk/servicenow" // ServiceNow
	_ "github.com/sondehq/sonde/collector/helpdesk/webhook"    // any helpdesk, through a signed webhook
	_ "github.com/sondehq/sonde/collector/helpdesk/zammad"     // Zammad
	_ "github.com/sondehq/sonde/collector/helpdesk/zendesk"    // Zendesk
)
