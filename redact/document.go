package redact

import (
	"encoding/json"
	"strconv"

	"github.com/sondehq/sonde/protocol"
)

// Document returns a redacted deep copy of d: every probe's Data through
// JSON (reported under the probe's name), probe errors and the string Facts
// through Text. With pseudonymization the host name in Facts and the host
// and user names in the probes' data are learned first, so they are replaced
// in every probe, whatever the order. AgentID and RequestID are the
// collector's own identifiers and are kept.
func (r *Redactor) Document(d *protocol.Document) *protocol.Document {
	if d == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.pseudo {
		if d.Facts != nil {
			r.addName(kindHost, d.Facts.Hostname)
		}
		for _, p := range d.Probes {
			r.learn(p.Data)
		}
	}
	out := *d
	if d.Facts != nil {
		f := r.facts(*d.Facts)
		out.Facts = &f
	}
	if d.Probes != nil {
		out.Probes = make([]protocol.ProbeJSON, len(d.Probes))
	}
	// What the agent scrubbed, once per snapshot however many times it is
	// redacted (as the bundle's snapshot and in its history).
	id := [3]string{d.AgentID, strconv.FormatInt(d.BootEpoch, 10), strconv.FormatUint(d.Seq, 10)}
	countSource := d.Seq == 0 || !r.sourced[id]
	r.sourced[id] = true
	for i, p := range d.Probes {
		// Probe names are compiled-in identifiers: secrets only, no pseudonyms.
		name := r.secrets(p.Name, "probe-name")
		q := protocol.ProbeJSON{Name: name, DurationMS: p.DurationMS}
		for _, sc := range p.Scrubbed {
			// Rule IDs are checked by the protocol: kebab-case words.
			q.Scrubbed = append(q.Scrubbed, protocol.Scrub{Rule: r.secrets(sc.Rule, "probe-name"), Count: sc.Count})
			if countSource {
				record(r.source, q.Scrubbed[len(q.Scrubbed)-1].Rule, KindSecret, name, int(sc.Count))
			}
		}
		q.Error = r.text(p.Error, name+":error")
		if len(p.Data) > 0 {
			q.Data = json.RawMessage(r.json(p.Data, name))
		}
		out.Probes[i] = q
	}
	return &out
}

// facts redacts the string facts.
func (r *Redactor) facts(f protocol.Facts) protocol.Facts {
	if r.pseudo && f.Hostname != "" {
		f.Hostname = r.nameField(kindHost, f.Hostname, "facts:hostname", true)
	} else {
		f.Hostname = r.text(f.Hostname, "facts:hostname")
	}
	for _, s := range []struct {
		p    *string
		name string
	}{
		{&f.OS, "os"}, {&f.Platform, "platform"}, {&f.PlatformFamily, "platform_family"},
		{&f.PlatformVersion, "platform_version"}, {&f.KernelVersion, "kernel_version"},
		{&f.Arch, "arch"}, {&f.Virtualization, "virtualization"}, {&f.HostID, "host_id"},
		{&f.CPUModel, "cpu_model"},
	} {
		*s.p = r.text(*s.p, "facts:"+s.name)
	}
	return f
}
