package helpdesk

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Config is one connector as the collector's helpdesks file names it.
type Config struct {
	// Name is how tickets, alert rules and `sonde ticket link --external`
	// name the connector: letters, digits, '-' and '_'.
	Name string `yaml:"name"`
	// Kind is the helpdesk: rt, redmine, jira, zendesk, servicenow,
	// zammad, glpi or webhook.
	Kind string `yaml:"kind"`
	URL  string `yaml:"url"`
	// Queue is the queue, project or group new tickets open in.
	Queue string `yaml:"queue"`
	// User goes with Secret where the helpdesk pairs them (Jira's e-mail
	// and API token, Zendesk's e-mail/token, ServiceNow's user).
	User   string `yaml:"user"`
	Secret Secret `yaml:"secret"`
	// AppToken is GLPI's App-Token, when its API asks for one.
	AppToken Secret `yaml:"app_token"`
	// WebhookSecret verifies the helpdesk's signed webhooks, and signs the
	// generic webhook's posts.
	WebhookSecret Secret `yaml:"webhook_secret"`
	// Fields are set on each ticket the connector opens, by the helpdesk's
	// own field names (a priority, a custom field).
	Fields map[string]string `yaml:"fields"`
	// MaxUpload is the largest attachment the helpdesk takes, in bytes; a
	// bigger bundle gets a comment saying where it is instead.
	MaxUpload int64 `yaml:"max_upload"`
	// Timeout bounds an attempt that sends no file (2 minutes when 0); an
	// upload gets a second more for each 256 KB.
	Timeout time.Duration `yaml:"timeout"`
	// Poll is how often ticket states are read back, where the helpdesk
	// has no webhook; 0 means every minute.
	Poll time.Duration `yaml:"poll"`
}

// Secret is a credential read from the environment or a file; never
// written in the helpdesks file itself.
type Secret struct {
	Env  string `yaml:"env"`
	File string `yaml:"file"`
}

// Value reads the secret; "" when none is configured.
func (s Secret) Value() (string, error) {
	switch {
	case s.Env != "" && s.File != "":
		return "", errors.New("give env or file, not both")
	case s.Env != "":
		v, ok := os.LookupEnv(s.Env)
		if !ok || v == "" {
			return "", fmt.Errorf("$%s is not set", s.Env)
		}
		return v, nil
	case s.File != "":
		b, err := os.ReadFile(s.File)
		if err != nil {
			return "", fmt.Errorf("reading the secret: %w", err)
		}
		v := strings.TrimSpace(string(b))
		if v == "" {
			return "", fmt.Errorf("%s is empty", s.File)
		}
		return v, nil
	}
	return "", nil
}

// Settings is a Config with its secrets read, as a Factory gets it.
type Settings struct {
	Config
	Secret, AppToken, WebhookSecret string
}

// Factory makes a connector of one kind.
type Factory func(Settings) (Connector, error)

var factories = map[string]Factory{}

// Register makes a kind of connector known; connectors call it in init.
func Register(kind string, f Factory) { factories[kind] = f }

// Kinds lists the registered kinds.
func Kinds() []string {
	var ks []string
	for k := range factories {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// DefaultMaxUpload is the upload limit when a connector names none.
const DefaultMaxUpload = 50 << 20

var validName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

// Load reads a helpdesks file:
//
//	connectors:
//	  - name: rt
//	    kind: rt
//	    url: https://rt.example.com
//	    queue: General
//	    secret: {env: SONDE_RT_TOKEN}
//
// and makes its connectors, by name. Its errors name the connector and
// never carry a secret's value.
func Load(path string) (map[string]Connector, map[string]Settings, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("helpdesks: %w", err)
	}
	var file struct {
		Connectors []Config `yaml:"connectors"`
	}
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&file); err != nil {
		return nil, nil, fmt.Errorf("helpdesks %s: %w", path, err)
	}
	cs := map[string]Connector{}
	ss := map[string]Settings{}
	for i, c := range file.Connectors {
		s, err := settings(c)
		if err != nil {
			return nil, nil, fmt.Errorf("helpdesks %s: connector %d (%q): %w", path, i+1, c.Name, err)
		}
		if _, dup := cs[c.Name]; dup {
			return nil, nil, fmt.Errorf("helpdesks %s: two connectors are named %q", path, c.Name)
		}
		conn, err := factories[c.Kind](s)
		if err != nil {
			return nil, nil, fmt.Errorf("helpdesks %s: connector %q: %w", path, c.Name, err)
		}
		cs[c.Name], ss[c.Name] = conn, s
	}
	return cs, ss, nil
}

func settings(c Config) (Settings, error) {
	s := Settings{Config: c}
	if !validName.MatchString(c.Name) {
		return s, errors.New("name: want 1–32 letters, digits, '-' or '_'")
	}
	if _, ok := factories[c.Kind]; !ok {
		return s, fmt.Errorf("kind %q: want one of %s", c.Kind, strings.Join(Kinds(), ", "))
	}
	if c.MaxUpload < 0 {
		return s, errors.New("max_upload must not be negative")
	}
	if s.MaxUpload == 0 {
		s.MaxUpload = DefaultMaxUpload
	}
	if c.Timeout < 0 {
		return s, errors.New("timeout must not be negative")
	}
	if s.Timeout == 0 {
		s.Timeout = 2 * time.Minute
	}
	if c.Poll < 0 {
		return s, errors.New("poll must not be negative")
	}
	if s.Poll == 0 {
		s.Poll = time.Minute
	}
	var err error
	for _, f := range []struct {
		name string
		in   Secret
		out  *string
	}{{"secret", c.Secret, &s.Secret}, {"app_token", c.AppToken, &s.AppToken}, {"webhook_secret", c.WebhookSecret, &s.WebhookSecret}} {
		if *f.out, err = f.in.Value(); err != nil {
			return s, fmt.Errorf("%s: %w", f.name, err)
		}
	}
	return s, nil
}
