package findings

func init() {
	register("security", []string{"security.firewall-off", "security.disk-unencrypted", "security.secure-boot-off", "security.auto-updates-off"}, analyzeSecurity)
}

// securityData is what the analyzer reads of the security probe. A
// verdict the probe could not reach is null, and raises nothing.
type securityData struct {
	Firewall *struct {
		Active *bool  `json:"active"`
		Why    string `json:"why"`
	} `json:"firewall"`
	DiskEncryption *struct {
		Volume    string `json:"volume"`
		Encrypted *bool  `json:"encrypted"`
		Device    string `json:"device"`
	} `json:"disk_encryption"`
	SecureBoot *struct {
		Boot    string `json:"boot"`
		Enabled *bool  `json:"enabled"`
	} `json:"secure_boot"`
	AutoUpdates *struct {
		Enabled *bool  `json:"enabled"`
		Why     string `json:"why"`
	} `json:"auto_updates"`
}

func analyzeSecurity(in *input) []Finding {
	var d securityData
	if !probe(in.doc, "security", &d) {
		return nil
	}
	isFalse := func(b *bool) bool { return b != nil && !*b }
	var out []Finding
	if f := d.Firewall; f != nil && isFalse(f.Active) {
		out = append(out, Finding{ID: "security.firewall-off", Severity: Warning,
			Title: "No firewall filters incoming connections", Evidence: map[string]any{"why": clip(f.Why)}})
	}
	if e := d.DiskEncryption; e != nil && isFalse(e.Encrypted) {
		vol := clip(e.Volume)
		out = append(out, Finding{ID: "security.disk-unencrypted", Severity: Warning, Subject: vol,
			Title:    "The system disk is not encrypted",
			Evidence: map[string]any{"volume": vol, "device": clip(e.Device)}})
	}
	if s := d.SecureBoot; s != nil && s.Boot == "uefi" && isFalse(s.Enabled) {
		out = append(out, Finding{ID: "security.secure-boot-off", Severity: Info,
			Title: "Secure Boot is off", Evidence: map[string]any{"boot": "uefi"}})
	}
	if u := d.AutoUpdates; u != nil && isFalse(u.Enabled) {
		out = append(out, Finding{ID: "security.auto-updates-off", Severity: Info,
			Title: "Updates are not installed automatically", Evidence: map[string]any{"why": clip(u.Why)}})
	}
	return out
}
