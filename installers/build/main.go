// Command build makes a release of Sonde: the binaries for every target,
// then every package, then SHA256SUMS. `make packages` runs it.
//
//	go run ./installers/build [-out dist]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"

	"github.com/sondehq/sonde/installers/release"
)

// packager writes one kind of package for b and returns the artifacts'
// paths.
type packager struct {
	name  string
	build func(context.Context, *release.Build) ([]string, error)
}

// packagers are the kinds of package a release has.
var packagers []packager

func main() {
	out := flag.String("out", "dist", "output `dir` (emptied first)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *out); err != nil {
		fmt.Fprintln(os.Stderr, "build:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out string) error {
	root, err := os.Getwd()
	if err != nil {
		return fmt.Errorf("the module's folder: %w", err)
	}
	b := &release.Build{Root: root}
	if b.Out, err = filepath.Abs(out); err != nil {
		return fmt.Errorf("the output folder: %w", err)
	}
	if b.Version, err = release.Version(ctx, root); err != nil {
		return fmt.Errorf("naming the release: %w", err)
	}
	if b.Epoch, err = release.Epoch(ctx, root); err != nil {
		return fmt.Errorf("dating the release: %w", err)
	}
	if err := os.RemoveAll(b.Out); err != nil {
		return fmt.Errorf("emptying the output folder: %w", err)
	}
	fmt.Printf("Sonde %s (timestamps %s) into %s\n", b.Version, b.Epoch.Format("2006-01-02T15:04:05Z"), b.Out)
	var artifacts []string
	for _, p := range []struct {
		program string
		targets []release.Target
	}{{release.Agent, release.AgentTargets}, {release.CLI, release.AgentTargets}, {release.Collector, release.LinuxTargets}} {
		if err := b.Binaries(ctx, p.program, p.targets); err != nil {
			return fmt.Errorf("the binaries: %w", err)
		}
		for _, t := range p.targets {
			artifacts = append(artifacts, b.Bin(p.program, t))
		}
	}
	for _, p := range packagers {
		got, err := p.build(ctx, b)
		if err != nil {
			return fmt.Errorf("%s: %w", p.name, err)
		}
		for _, a := range got {
			fmt.Println("  ", a)
		}
		artifacts = append(artifacts, got...)
	}
	if err := release.WriteSums(b.Out, artifacts); err != nil {
		return fmt.Errorf("the release: %w", err)
	}
	return nil
}
