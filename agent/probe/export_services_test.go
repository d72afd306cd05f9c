package probe

import "encoding/json"

// ServicesSummary decodes a service manager's answer as the probe holds it
// (testdata/services/<case>/units.json) and summarises it like the probe.
func ServicesSummary(data []byte, health bool) (any, error) {
	var l serviceList
	if err := json.Unmarshal(data, &l); err != nil {
		return nil, err
	}
	if health {
		return l.health(), nil
	}
	return l.summarise(), nil
}
