package harness

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// ProcCPU is the user + system CPU time of process pid ("self" for this
// one), from /proc/PID/stat: what the soak and benchmark tests read from
// outside the programs they measure.
func ProcCPU(pid string) (time.Duration, error) {
	stat, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0, fmt.Errorf("reading the CPU time of process %s: %w", pid, err)
	}
	// Fields after the command name: state is field 3, utime 14, stime 15,
	// in clock ticks (100 a second on Linux).
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+2:]))
	if len(fields) < 13 {
		return 0, fmt.Errorf("reading the CPU time of process %s: /proc/%[1]s/stat has %d fields", pid, len(fields)+2)
	}
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond, nil
}

// StatusField reads a "kB" line of a /proc/PID/status text (key with its
// colon, "VmRSS:"), in bytes; 0 when absent.
func StatusField(status, key string) int64 {
	for line := range strings.Lines(status) {
		if rest, ok := strings.CutPrefix(line, key); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// RSS is process pid's resident memory (VmRSS), in bytes.
func RSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("reading the memory of process %d: %w", pid, err)
	}
	return StatusField(string(b), "VmRSS:"), nil
}

// Metrics is one scrape of a collector's /metrics: series (name and
// labels, as printed) to value.
type Metrics map[string]float64

// Sum adds the series of name whose labels hold every one of labels
// (`duplicate="false"`).
func (m Metrics) Sum(name string, labels ...string) float64 {
	var total float64
	for series, v := range m {
		n, l, _ := strings.Cut(series, "{")
		if n != name {
			continue
		}
		ok := true
		for _, want := range labels {
			ok = ok && strings.Contains(l, want)
		}
		if ok {
			total += v
		}
	}
	return total
}

// Scrape reads the Prometheus text at url.
func Scrape(url string) (Metrics, error) {
	resp, err := http.Get(url)
	if err != nil {
		return nil, fmt.Errorf("scraping %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return nil, fmt.Errorf("scraping %s: %s: %s", url, resp.Status, b)
	}
	out := Metrics{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			out[line[:i]] = v
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("scraping %s: %w", url, err)
	}
	return out, nil
}
