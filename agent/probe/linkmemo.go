package probe

// linkMemo keeps what a probe read of the host's interfaces in /sys (the
// vpn probe's tunnel evidence, the wifi probe's wireless interfaces) while
// the agent's interface list keeps its generation (hostLinkGen): the kernel
// notifies the list's subscription of every change of an interface (added,
// removed, renamed, up or down, its addresses), and what is kept is fixed
// for an interface's life (its type, DEVTYPE, tun flags, whether it is
// wireless) or its link state. Reading them again cost 0.1 to 0.2 ms a
// probe, cold, at every snapshot.
type linkMemo[T any] struct {
	// gen is hostLinkGen; nil (another platform, a test) keeps nothing.
	gen func() (uint64, bool)
	at  uint64
	ok  bool // val was read at generation at
	val T
}

// get returns the kept value while the generation has not moved, else
// what read returns, kept. The value is shared between calls: callers
// copy what they change.
func (m *linkMemo[T]) get(read func() T) T {
	if m.gen == nil {
		return read()
	}
	gen, ok := m.gen() // before reading: a change after it moves it again
	if ok && m.ok && gen == m.at {
		return m.val
	}
	v := read()
	m.at, m.ok, m.val = gen, ok, v
	return v
}
