package probe

import (
	"bytes"
	"context"
	"encoding/xml"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
)

// eventLogEvents is how many events wevtutil returns per log, the newest.
const eventLogEvents = 1000

// eventLogQuery selects critical, error and warning events of the last
// 24 hours (86,400,000 ms).
const eventLogQuery = "*[System[(Level=1 or Level=2 or Level=3) and TimeCreated[timediff(@SystemTime) <= 86400000]]]"

// eventLogArgs are wevtutil's fixed arguments for one log: newest first,
// as XML with the rendered message (RenderedXml: plain xml carries no
// message text, only the event's parameters).
func eventLogArgs(channel string) []string {
	return []string{"qe", channel, "/q:" + eventLogQuery, "/c:" + strconv.Itoa(eventLogEvents), "/rd:true", "/f:RenderedXml"}
}

// eventLog reads one Windows event log (System or Application).
func (p *logsProbe) eventLog(channel string) func(context.Context, *logsRun, *LogSource) error {
	return func(ctx context.Context, r *logsRun, st *LogSource) error {
		out, err := p.runLogTool(ctx, st, "wevtutil", eventLogArgs(channel)...)
		consumeEventLog(r, st, out)
		if st.EntriesRead >= eventLogEvents {
			st.Truncated = true // there may be more
		}
		return err
	}
}

// winEvent is the part of an <Event> the probe reads.
type winEvent struct {
	System struct {
		Provider struct {
			Name string `xml:"Name,attr"`
		} `xml:"Provider"`
		EventID     string `xml:"EventID"`
		Level       string `xml:"Level"`
		TimeCreated struct {
			SystemTime string `xml:"SystemTime,attr"`
		} `xml:"TimeCreated"`
	} `xml:"System"`
	EventData struct {
		Data []struct {
			Name  string `xml:"Name,attr"`
			Value string `xml:",chardata"`
		} `xml:"Data"`
	} `xml:"EventData"`
	RenderingInfo struct {
		Message string `xml:"Message"`
	} `xml:"RenderingInfo"`
}

// consumeEventLog parses wevtutil's output, a sequence of <Event>
// elements; parsing stops at the first that does not parse (the last one,
// when the output was cut).
func consumeEventLog(r *logsRun, st *LogSource, out []byte) {
	d := xml.NewDecoder(bytes.NewReader(bytes.ToValidUTF8(fromUTF16(out), []byte("\uFFFD"))))
	for {
		tok, err := d.Token()
		if err != nil {
			return
		}
		start, ok := tok.(xml.StartElement)
		if !ok || start.Name.Local != "Event" {
			continue
		}
		var ev winEvent
		if d.DecodeElement(&ev, &start) != nil {
			return
		}
		st.EntriesRead++
		winEventEntry(r, st, &ev)
	}
}

// winEventEntry takes one event: a message, and for Windows Error
// Reporting's records of an application crash or hang or of a bugcheck,
// a crash.
func winEventEntry(r *logsRun, st *LogSource, ev *winEvent) {
	t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(ev.System.TimeCreated.SystemTime))
	if err != nil {
		return
	}
	sev := map[string]int{"1": sevCritical, "2": sevError, "3": sevWarning}[strings.TrimSpace(ev.System.Level)]
	if sev == 0 {
		return
	}
	id := strings.TrimSpace(ev.System.EventID)
	provider := ev.System.Provider.Name
	msg := strings.TrimSpace(ev.RenderingInfo.Message)
	if msg == "" {
		var parts []string
		for _, d := range ev.EventData.Data {
			if d.Name != "" {
				parts = append(parts, d.Name+"="+d.Value)
			} else {
				parts = append(parts, d.Value)
			}
		}
		msg = strings.Join(parts, "; ")
	}
	r.entry(st, logEntry{time: t, severity: sev, source: provider, message: msg, tag: "event " + cleanName(id) + ": "})
	switch {
	case provider == "Application Error" && id == "1000":
		c := crashRecord{time: t, LogCrash: LogCrash{Kind: "crash", Source: st.Name,
			Program: eventData(ev, "AppName", 0), Executable: eventData(ev, "AppPath", -1),
			Signal: eventData(ev, "ExceptionCode", 6)}}
		if pid, err := strconv.ParseInt(strings.TrimPrefix(eventData(ev, "ProcessId", 8), "0x"), 16, 32); err == nil {
			c.PID = int(pid)
		}
		if c.Signal != "" && !strings.HasPrefix(c.Signal, "0x") {
			c.Signal = "0x" + c.Signal
		}
		r.crash(c)
	case provider == "Application Hang" && id == "1002":
		r.crash(crashRecord{time: t, LogCrash: LogCrash{Kind: "hang", Source: st.Name,
			Program: eventData(ev, "AppName", 0), Executable: eventData(ev, "AppPath", 5)}})
	case provider == "Microsoft-Windows-WER-SystemErrorReporting" && id == "1001":
		// param1 is "0x0000009f (0x..., 0x..., 0x..., 0x...)": the stop code.
		code, _, _ := strings.Cut(eventData(ev, "param1", 0), " ")
		r.crash(crashRecord{time: t, LogCrash: LogCrash{Kind: "kernel", Program: "kernel", Signal: code, Source: st.Name}})
	}
}

// eventData returns the event's data item of that name, else the one at
// index i (older Windows leave them unnamed), else "".
func eventData(ev *winEvent, name string, i int) string {
	data := ev.EventData.Data
	for _, d := range data {
		if d.Name == name {
			return strings.TrimSpace(d.Value)
		}
	}
	if i >= 0 && i < len(data) && data[i].Name == "" {
		return strings.TrimSpace(data[i].Value)
	}
	return ""
}

// fromUTF16 decodes output written as UTF-16 (little-endian, as Windows
// tools write it with a byte-order mark or when asked for Unicode) into
// UTF-8, and returns other output as it is.
func fromUTF16(b []byte) []byte {
	switch {
	case len(b) >= 2 && b[0] == 0xFF && b[1] == 0xFE:
		b = b[2:]
	case len(b) >= 2 && b[0] == '<' && b[1] == 0:
	default:
		return b
	}
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = uint16(b[2*i]) | uint16(b[2*i+1])<<8
	}
	return []byte(string(utf16.Decode(u)))
}
