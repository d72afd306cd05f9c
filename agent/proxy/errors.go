package proxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
)

// What an Error's Op says was under way.
const (
	OpConnect = "connecting to"   // the TCP connection to the proxy
	OpTLS     = "TLS with"        // the handshake with an https:// proxy
	OpTunnel  = "CONNECT through" // the request and its answer
)

// Error is a failure to tunnel through a proxy, worded for whoever runs
// the proxy: which proxy, which step, and what to change.
type Error struct {
	// Proxy is the proxy's host:port; Target the tunnel's.
	Proxy, Target string
	// Op is the step that failed: OpConnect, OpTLS or OpTunnel.
	Op string
	// Status is the proxy's HTTP status, 0 when it gave none; Reason its
	// words for it.
	Status int
	Reason string
	// Schemes are the authentication schemes a 407 asks for (or a 401,
	// which some proxies answer instead: tinyproxy before 1.11.2).
	Schemes []string
	// SentCredentials says the request carried Basic credentials.
	SentCredentials bool
	// Err is the underlying error, when there is no status.
	Err error
}

// Unwrap returns the underlying error: errors.Is(err,
// os.ErrDeadlineExceeded) tells a timeout.
func (e *Error) Unwrap() error { return e.Err }

// Timeout says the step ran out of time.
func (e *Error) Timeout() bool { return isTimeout(e.Err) }

func (e *Error) Error() string {
	at := "the proxy at " + e.Proxy
	status := strconv.Itoa(e.Status) + " " + e.reason()
	switch {
	case e.Status == 407 || e.Status == 401: // 401: some proxies' word for 407
		asks := "it names no scheme"
		if len(e.Schemes) > 0 {
			asks = "it asks for " + strings.Join(e.Schemes, ", ")
		}
		what := at + " requires authentication"
		if e.SentCredentials {
			what = at + " refused our credentials"
		}
		switch {
		case e.basicOffered() && e.SentCredentials:
			return fmt.Sprintf("%s (%s; %s): check the user and password of the proxy URL", what, status, asks)
		case e.basicOffered():
			return fmt.Sprintf("%s (%s; %s): give a user and password in the proxy URL (agent.yaml's proxy and proxy_password_file)", what, status, asks)
		}
		return fmt.Sprintf("%s (%s; %s: not supported, use Basic or exempt the collector)", what, status, asks)
	case e.Status == 502 || e.Status == 503 || e.Status == 504:
		return fmt.Sprintf("%s could not open a connection to %s (%s): check that the proxy can reach that host and port", at, e.Target, status)
	case e.Status != 0:
		return fmt.Sprintf("%s refused CONNECT to %s (%s): allow that host and port", at, e.Target, status)
	case e.Timeout() && e.Op == OpTunnel:
		return fmt.Sprintf("%s did not answer CONNECT to %s in time", at, e.Target)
	case e.Timeout():
		return fmt.Sprintf("%s %s: timed out", e.Op, at)
	case e.Op == OpTunnel:
		return fmt.Sprintf("%s %s to %s: %v", e.Op, at, e.Target, e.Err)
	}
	return fmt.Sprintf("%s %s: %v", e.Op, at, e.Err)
}

// basicOffered says the proxy accepts Basic authentication.
func (e *Error) basicOffered() bool {
	for _, s := range e.Schemes {
		if strings.EqualFold(s, "Basic") {
			return true
		}
	}
	return false
}

// reason is the status's reason phrase: the proxy's, else the standard
// one (the agent links no net/http for http.StatusText).
func (e *Error) reason() string {
	if e.Reason != "" {
		return e.Reason
	}
	return map[int]string{
		400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
		407: "Proxy Authentication Required", 500: "Internal Server Error", 501: "Not Implemented",
		502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout",
	}[e.Status]
}

// isTimeout says err is a deadline's.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}
