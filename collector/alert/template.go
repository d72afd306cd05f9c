package alert

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"text/template"
	"time"
)

// maxAnnotationLen bounds a rendered annotation.
const maxAnnotationLen = 4096

// TemplateData is what a summary or description template sees.
type TemplateData struct {
	// Labels are the alert's labels: the rule's, the series' (mountpoint,
	// unit, interface ...), agent_id, hostname, alertname and severity.
	Labels map[string]string
	// Value is the series' value when the condition last held.
	Value float64
	// ActiveFor is how long the condition has held, in seconds: from when
	// it started to the last evaluation at which it held.
	ActiveFor float64
	// Rule is the rule's name.
	Rule     string
	Severity Severity
}

// templateFuncs are the functions templates may call, besides text/template's
// own (printf, len, index ...).
var templateFuncs = template.FuncMap{
	"mul":              func(a, b any) (float64, error) { return arith(a, b, func(x, y float64) float64 { return x * y }) },
	"div":              func(a, b any) (float64, error) { return arith(a, b, func(x, y float64) float64 { return x / y }) },
	"add":              func(a, b any) (float64, error) { return arith(a, b, func(x, y float64) float64 { return x + y }) },
	"sub":              func(a, b any) (float64, error) { return arith(a, b, func(x, y float64) float64 { return x - y }) },
	"humanizeBytes":    func(v any) (string, error) { return humanize(v, humanizeBytes) },
	"humanizeDuration": func(v any) (string, error) { return humanize(v, humanizeDuration) },
	"humanizePercent":  func(v any) (string, error) { return humanize(v, humanizePercent) },
}

func arith(a, b any, f func(x, y float64) float64) (float64, error) {
	x, err := toFloat(a)
	if err != nil {
		return 0, err
	}
	y, err := toFloat(b)
	if err != nil {
		return 0, err
	}
	return f(x, y), nil
}

func humanize(v any, f func(float64) string) (string, error) {
	x, err := toFloat(v)
	if err != nil {
		return "", err
	}
	return f(x), nil
}

// toFloat accepts the numbers a template may hold: constants, the value,
// and label values that are numbers.
func toFloat(v any) (float64, error) {
	switch x := v.(type) {
	case float64:
		return x, nil
	case int:
		return float64(x), nil
	case int64:
		return float64(x), nil
	case uint64:
		return float64(x), nil
	case string:
		if strings.TrimSpace(x) == "" {
			return 0, nil // a label the series does not have
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		if err != nil {
			return 0, fmt.Errorf("not a number: %q", x)
		}
		return f, nil
	}
	return 0, fmt.Errorf("not a number: %T", v)
}

// humanizeBytes formats a byte count with binary units: "1.5 GiB".
func humanizeBytes(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	i := 0
	for math.Abs(v) >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%.0f B", v)
	}
	return fmt.Sprintf("%.1f %s", v, units[i])
}

// maxDurationSeconds is the most seconds a time.Duration holds; beyond
// it the conversion would overflow.
const maxDurationSeconds = float64(math.MaxInt64 / int64(time.Second))

// humanizeDuration formats seconds in the largest unit and the next one
// when not zero: "2h 5m", "20m", "1d 3h".
func humanizeDuration(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) > maxDurationSeconds {
		return strconv.FormatFloat(v, 'g', -1, 64) + "s"
	}
	d := time.Duration(v * float64(time.Second))
	if d.Abs() < time.Minute {
		return fmt.Sprintf("%.3gs", d.Seconds())
	}
	sign := ""
	if d < 0 {
		sign, d = "-", -d
	}
	parts := []struct {
		unit string
		n    int64
	}{{"d", int64(d / (24 * time.Hour))}, {"h", int64(d/time.Hour) % 24}, {"m", int64(d/time.Minute) % 60}, {"s", int64(d/time.Second) % 60}}
	var out []string
	for i, p := range parts {
		if p.n > 0 {
			out = append(out, fmt.Sprintf("%d%s", p.n, p.unit))
			if i+1 < len(parts) && parts[i+1].n > 0 {
				out = append(out, fmt.Sprintf("%d%s", parts[i+1].n, parts[i+1].unit))
			}
			break
		}
	}
	return sign + strings.Join(out, " ")
}

// humanizePercent formats a ratio as a whole percentage: 0.934 is "93%".
func humanizePercent(v float64) string {
	return fmt.Sprintf("%.0f%%", v*100)
}

// parseTemplate parses a template and runs it once on sample data, so that
// a reference to an unknown field or a wrong argument fails at load.
func parseTemplate(name, text string) (*template.Template, error) {
	if text == "" {
		return nil, nil
	}
	t, err := template.New(name).Option("missingkey=zero").Funcs(templateFuncs).Parse(text)
	if err != nil {
		return nil, fmt.Errorf("template %s: %w", name, err)
	}
	sample := TemplateData{Labels: map[string]string{}, Value: 0.5, ActiveFor: 600, Rule: "Rule", Severity: Warning}
	w := &capWriter{}
	if err := t.Execute(w, sample); err != nil && !w.full {
		return nil, fmt.Errorf("template %s: %w", name, err)
	}
	return t, nil
}

// capWriter keeps the first maxAnnotationLen bytes and then fails, which
// stops a runaway template.
type capWriter struct {
	b    bytes.Buffer
	full bool
}

func (w *capWriter) Write(p []byte) (int, error) {
	if w.b.Len()+len(p) > maxAnnotationLen {
		w.b.Write(p[:maxAnnotationLen-w.b.Len()])
		w.full = true
		return 0, errors.New("annotation too long")
	}
	n, err := w.b.Write(p)
	if err != nil {
		return n, fmt.Errorf("writing an annotation: %w", err)
	}
	return n, nil
}

// renderTemplate executes t; an error is rendered in its place, so that an alert
// is never lost to its text.
func renderTemplate(t *template.Template, data TemplateData) string {
	if t == nil {
		return ""
	}
	w := &capWriter{}
	if err := t.Execute(w, data); err != nil && !w.full {
		return "(template error: " + err.Error() + ")"
	}
	s := w.b.String()
	if w.full {
		s = strings.ToValidUTF8(s[:maxAnnotationLen], "") + "..."
	}
	return s
}
