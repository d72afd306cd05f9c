package alert

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/sondehq/sonde/internal/limitfile"
)

// maxRuleFile bounds a rule file's size.
const maxRuleFile = 1 << 20

// LoadError is a problem in a rule file, at a line when one is known.
type LoadError struct {
	File string
	Line int
	Msg  string
}

func (e *LoadError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// fileSpec and ruleSpec are a rule file as written.
type fileSpec struct {
	Rules []ruleSpec `yaml:"rules"`
}

type ruleSpec struct {
	Name          string            `yaml:"name"`
	Expr          string            `yaml:"expr"`
	For           string            `yaml:"for"`
	KeepFiringFor string            `yaml:"keep_firing_for"`
	Severity      string            `yaml:"severity"`
	Labels        map[string]string `yaml:"labels"`
	Summary       string            `yaml:"summary"`
	Description   string            `yaml:"description"`
	Ticket        bool              `yaml:"ticket"`
	Helpdesk      string            `yaml:"helpdesk"`
	Queue         string            `yaml:"queue"`
	// Disabled, in the team's files, removes the default rule of the
	// same name.
	Disabled bool `yaml:"disabled"`
}

var (
	validName     = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_.-]{0,127}$`)
	validHelpdesk = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)
	validLabel    = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)
	// reserved labels are set by the engine.
	reserved  = []string{"alertname", "severity", "agent_id", "hostname"}
	yamlLine  = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)
	typeNames = strings.NewReplacer("in type alert.ruleSpec", "in a rule", "into alert.fileSpec", "into a rule file (want a mapping with rules:)")
)

// Load reads the default rules (every *.yaml at the root of defaults,
// which may be nil; DefaultRules is the built-in pack) and then the
// team's rules (*.yaml and *.yml in dir; none when dir is "" or does not
// exist). A team rule named like a default replaces it; one with
// "disabled: true" removes it. Every problem is reported, each naming its
// file and line, and any problem fails the whole load.
func Load(defaults fs.FS, dir string) (*RuleSet, error) {
	var errs []error
	var rules []*Rule
	index := map[string]int{}
	if defaults != nil {
		names, err := fs.Glob(defaults, "*.yaml")
		if err != nil {
			return nil, fmt.Errorf("listing the default rules: %w", err)
		}
		for _, name := range names {
			b, err := fs.ReadFile(defaults, name)
			if err != nil {
				errs = append(errs, &LoadError{File: "defaults/" + name, Msg: err.Error()})
				continue
			}
			parsed, err := parseFile("defaults/"+name, b)
			errs = append(errs, err)
			for _, p := range parsed {
				if i, dup := index[p.Name]; dup {
					errs = append(errs, p.errorf("rule %q is already defined at %s", p.Name, rules[i].Source))
					continue
				}
				index[p.Name] = len(rules)
				rules = append(rules, p.Rule)
			}
		}
	}
	team, err := readDir(dir)
	if err != nil {
		return nil, err
	}
	seen := map[string]string{}
	var disabled []string
	for _, f := range team {
		parsed, err := parseFile(f.name, f.data)
		errs = append(errs, err)
		for _, p := range parsed {
			if src, dup := seen[p.Name]; dup {
				errs = append(errs, p.errorf("rule %q is already defined at %s", p.Name, src))
				continue
			}
			seen[p.Name] = p.Source
			i, isDefault := index[p.Name]
			switch {
			case p.disabled && !isDefault:
				errs = append(errs, p.errorf("rule %q is disabled but there is no default rule of that name", p.Name))
			case p.disabled:
				disabled = append(disabled, p.Name)
			case isDefault:
				rules[i] = p.Rule
			default:
				index[p.Name] = len(rules)
				rules = append(rules, p.Rule)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	rules = slices.DeleteFunc(rules, func(r *Rule) bool { return slices.Contains(disabled, r.Name) })
	return newRuleSet(rules), nil
}

type ruleFile struct {
	name string
	data []byte
}

// readDir reads the rule files of dir, sorted by name.
func readDir(dir string) ([]ruleFile, error) {
	if dir == "" {
		return nil, nil
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing rule files: %w", err)
	}
	var out []ruleFile
	for _, e := range entries {
		if ext := path.Ext(e.Name()); e.IsDir() || (ext != ".yaml" && ext != ".yml") {
			continue
		}
		name := filepath.Join(dir, e.Name())
		b, err := limitfile.Read(name, maxRuleFile)
		if err != nil {
			return nil, &LoadError{File: name, Msg: err.Error()}
		}
		out = append(out, ruleFile{name, b})
	}
	return out, nil
}
