package probe

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"time"
)

// This file names the process that holds each socket the network probe
// reports, so that "a listening port went away" says which program had
// it. Where the socket table carries the owner's PID (Windows), that is
// read with the sockets; on Linux the sockets' inodes are looked up among
// the processes' descriptors (findOwners, network_owner_linux.go). Either
// way the PIDs are then named by the processes probe's code: name, user,
// command line scrubbed of secrets. Only full snapshots do this; the
// health variant reads no socket at all.

// SocketOwner is the process that holds a socket; empty when unknown (a
// kernel socket, a process this agent may not look into, a search cut
// short). A socket shared by several processes (a server's forked workers)
// is shown with the one of lowest PID, usually their parent.
type SocketOwner struct {
	PID     int32  `json:"pid,omitempty"`
	Process string `json:"process,omitempty"`
	// Cmdline is the command line, scrubbed of secrets on this machine,
	// at most maxSocketCmdline bytes; CmdlineTruncated says it was cut.
	Cmdline          string `json:"cmdline,omitempty"`
	CmdlineTruncated bool   `json:"cmdline_truncated,omitempty"`
	User             string `json:"user,omitempty"`
}

const (
	// maxSocketCmdline bounds an owner's command line: shorter than the
	// processes probe's, since one program may hold hundreds of sockets.
	maxSocketCmdline = 256
	// maxOwnerName bounds an owner's process and user names.
	maxOwnerName = 256
)

// ownerSearch sets, for each socket inode in want, the descriptor of a
// process that holds it (zero when none was found): first where want
// already says (the holder at the previous call), checking that link
// alone, then among the processes of first before the others, within lim
// and until expired; it returns why it stopped early, if it did.
type ownerSearch func(ctx context.Context, want map[uint64]fdRef, first []int32, lim ownerLimits, expired func() bool) (string, error)

// fdRef is a process's descriptor: the one found holding a socket.
type fdRef struct {
	pid, fd int32
}

// ownerLimits bound the search for the sockets' owners.
type ownerLimits struct {
	pids   int           // processes whose descriptors are read
	fds    int           // descriptors read, over all processes
	budget time.Duration // time spent finding and naming owners
}

// defaultOwnerLimits are far above what a workstation or a common server
// needs (a few hundred processes, a few thousand descriptors), and stop a
// machine with a great many from costing more than a quarter of a second.
var defaultOwnerLimits = ownerLimits{pids: 10_000, fds: 100_000, budget: 250 * time.Millisecond}

// owners finds the owners of the sockets of ls and es, setting each
// entry's pid, and names them by PID; it says in r when it could not do
// so for all.
func (p *networkProbe) owners(ctx context.Context, env *Env, ls, es []sockEntry, r *NetworkResult) (map[int32]SocketOwner, error) {
	lim := p.ownerLimits
	if lim == (ownerLimits{}) {
		lim = defaultOwnerLimits
	}
	now := p.now()
	deadline := now.Add(lim.budget)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	expired := func() bool { return ctx.Err() != nil || p.now().After(deadline) }
	var err error
	if p.tables == nil && p.findOwners != nil {
		err = p.findInodeOwners(ctx, now, ls, es, lim, expired, r)
	}
	var pids []int32
	for _, list := range [][]sockEntry{ls, es} {
		for _, e := range list {
			if e.pid > 0 {
				pids = append(pids, e.pid)
			}
		}
	}
	slices.Sort(pids)
	return p.nameOwners(ctx, env, slices.Compact(pids), expired, r), err
}

// findInodeOwners sets the pid of the entries of ls and es from the
// search for their inodes' holders. What the previous call found spares
// most of the search on a machine whose sockets stay put: a socket still
// listed is first looked for in the descriptor that held it (one link
// read, where finding it again would read every descriptor of its
// process), the processes that held sockets are looked into first, and
// the search ends once every socket has its owner. An inode that a whole
// search found no process holding (its holder is hidden from the agent:
// another PID namespace, hidepid) is not looked for again for unownedFor
// while it is listed: else every snapshot would read every descriptor of
// the machine to find nothing.
func (p *networkProbe) findInodeOwners(ctx context.Context, now time.Time, ls, es []sockEntry, lim ownerLimits, expired func() bool, r *NetworkResult) error {
	want := map[uint64]fdRef{}
	unowned := make(map[uint64]time.Time, len(p.unowned))
	var first []int32
	for _, list := range [][]sockEntry{ls, es} {
		for _, e := range list {
			switch since, ok := p.unowned[e.inode]; {
			case e.inode == 0:
			case ok && now.Sub(since) < unownedFor:
				unowned[e.inode] = since
			default:
				held := p.owned[e.inode]
				want[e.inode] = held
				if held.pid > 0 {
					first = append(first, held.pid)
				}
			}
		}
	}
	slices.Sort(first)
	stopped, err := p.findOwners(ctx, want, slices.Compact(first), lim, expired)
	p.stopped(r, stopped)
	for _, list := range [][]sockEntry{ls, es} {
		for i := range list {
			list[i].pid = want[list[i].inode].pid
		}
	}
	for inode, held := range want {
		if held.pid == 0 && stopped == "" && err == nil {
			unowned[inode] = now
		}
		if held.pid == 0 {
			delete(want, inode)
		}
	}
	p.owned, p.unowned = want, unowned
	return err
}

// unownedFor is how long an inode no process was found holding is not
// looked for again.
const unownedFor = 10 * time.Minute

// stopped notes in r that the owners were found in part, and why.
func (p *networkProbe) stopped(r *NetworkResult, why string) {
	if why != "" && !r.OwnersTruncated {
		r.OwnersTruncated, r.OwnersNote = true, why
	}
}

// nameOwners reads the name, user and command line of each process pids
// names, with the processes probe's code and its cache between calls:
// the command line is scrubbed again only when it changed.
func (p *networkProbe) nameOwners(ctx context.Context, env *Env, pids []int32, expired func() bool, r *NetworkResult) map[int32]SocketOwner {
	if p.procs == nil {
		p.procs = &processesProbe{}
	}
	procs := p.procs
	procs.uidNames = nil
	shown := make(map[int32]procDetail, len(pids))
	out := make(map[int32]SocketOwner, len(pids))
	for _, pid := range pids {
		if expired() {
			p.stopped(r, "stopped naming the sockets' owners at the deadline")
			break
		}
		s, ok := procs.sampleOne(ctx, pid)
		if !ok {
			continue // gone since the search
		}
		d := procs.detail(ctx, env, &s)
		shown[pid] = d
		name, _ := bound(s.name, maxOwnerName, false)
		user, _ := bound(d.user, maxOwnerName, false)
		cmdline, cut := bound(d.cmdline, maxSocketCmdline, d.cut)
		out[pid] = SocketOwner{Process: name, Cmdline: cmdline, CmdlineTruncated: cut, User: user}
	}
	procs.details = shown
	return out
}

// socketLinkPrefix starts the target of a descriptor's link in
// /proc/<pid>/fd that is a socket: "socket:[12345]", 12345 its inode.
const socketLinkPrefix = "socket:["

// parseSocketLink returns the inode of a socket descriptor's link target;
// false for any other target (a file, a pipe, an anon_inode).
func parseSocketLink(b []byte) (uint64, bool) {
	rest, ok := bytes.CutPrefix(b, []byte(socketLinkPrefix))
	if !ok || len(rest) < 2 || rest[len(rest)-1] != ']' {
		return 0, false
	}
	return parseDec(rest[:len(rest)-1])
}

// ownersStopped says why a search for owners stopped early.
func ownersStopped(what string, n int) string {
	return fmt.Sprintf("stopped finding the sockets' owners after %d %s", n, what)
}
