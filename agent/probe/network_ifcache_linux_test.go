package probe

import (
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"testing"

	"golang.org/x/sys/unix"
)

// TestInterfaceCache: the interface list is dumped again only after the
// kernel announced a change of a link or an address, and then shows it.
// It runs in a network namespace of its own, on a locked thread, where it
// brings the loopback up and gives it an address; the thread goes back to
// its namespace afterwards. (Left there, a thread that is the process's
// main one would move /proc/self/net, which other tests read, with it.)
func TestInterfaceCache(t *testing.T) {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		self, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("opening this thread's network namespace: %w", err)
			return
		}
		defer unix.Close(self)
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("a network namespace of its own (root needed): %w", err)
			return
		}
		err = interfaceCacheSteps(t)
		if serr := unix.Setns(self, unix.CLONE_NEWNET); serr != nil {
			// Stay locked: the thread ends with the goroutine.
			errc <- fmt.Errorf("back to the test's network namespace: %v (steps: %v)", serr, err)
			return
		}
		runtime.UnlockOSThread()
		errc <- err
	}()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// interfaceCacheSteps brings the loopback up, then adds an address, and
// checks what the cache dumps at each step; it fails on the first step
// that cannot be taken.
func interfaceCacheSteps(t *testing.T) error {
	dumps := 0
	c := &interfaceCache{sub: -1, dump: func() ([]NetworkInterface, error) { dumps++; return dumpInterfaces() }}
	defer func() {
		if c.sub >= 0 {
			unix.Close(c.sub)
		}
	}()
	lo := func(step string, wantDumps int) (NetworkInterface, error) {
		list, err := c.get()
		if err != nil {
			return NetworkInterface{}, fmt.Errorf("%s: %w", step, err)
		}
		if dumps != wantDumps {
			t.Errorf("%s: %d dumps, want %d", step, dumps, wantDumps)
		}
		if len(list) != 1 || list[0].Name != "lo" {
			return NetworkInterface{}, fmt.Errorf("%s: %+v, want the loopback alone", step, list)
		}
		l := list[0]
		list[0].Addrs = append(list[0].Addrs[:0], "scribbled") // the caller's copy
		return l, nil
	}
	for _, step := range []struct {
		name   string
		change func() error
		dumps  int
		check  func(NetworkInterface) bool
	}{
		{"first", nil, 1, func(l NetworkInterface) bool { return !slices.Contains(l.Flags, "up") }},
		{"again", nil, 1, func(l NetworkInterface) bool { return !slices.Contains(l.Addrs, "scribbled") }},
		{"after the loopback came up", func() error { return rtRequest(unix.RTM_NEWLINK, linkUp(1)) }, 2,
			func(l NetworkInterface) bool { return slices.Contains(l.Flags, "up") }},
		{"again", nil, 2, nil},
		{"after an address was added", func() error { return rtRequest(unix.RTM_NEWADDR, ipv4Addr(1, [4]byte{10, 9, 8, 7}, 24)) }, 3,
			func(l NetworkInterface) bool { return slices.Contains(l.Addrs, "10.9.8.7/24") }},
		{"again", nil, 3, nil},
	} {
		if step.change != nil {
			if err := step.change(); err != nil {
				return fmt.Errorf("%s: %w", step.name, err)
			}
		}
		l, err := lo(step.name, step.dumps)
		if err != nil {
			return err
		}
		if step.check != nil && !step.check(l) {
			t.Errorf("%s: %+v", step.name, l)
		}
		if gen, ok := c.generation(); !ok || gen != uint64(step.dumps) || dumps != step.dumps {
			t.Errorf("%s: generation %d (%v) after %d dumps; want the count of dumps, and no dump more", step.name, gen, ok, dumps)
		}
	}
	return nil
}

// TestInterfaceGenerationFailed: a cache whose dump fails tells no
// generation to keep anything by, and dumps at every call.
func TestInterfaceGenerationFailed(t *testing.T) {
	dumps := 0
	c := &interfaceCache{sub: -1, dump: func() ([]NetworkInterface, error) { dumps++; return nil, errors.New("refused") }}
	defer func() {
		if c.sub >= 0 {
			unix.Close(c.sub)
		}
	}()
	for i := range 2 {
		if gen, ok := c.generation(); ok || gen != uint64(i+1) || dumps != i+1 {
			t.Errorf("call %d: generation %d (%v), %d dumps", i+1, gen, ok, dumps)
		}
	}
}

// TestLinkMemo: a value is read again exactly when the generation moved
// or could not be told; without a generation (another platform) at every
// call.
func TestLinkMemo(t *testing.T) {
	gen, told := uint64(1), true
	reads := 0
	m := linkMemo[int]{gen: func() (uint64, bool) { return gen, told }}
	read := func() int { reads++; return reads }
	for _, step := range []struct {
		name  string
		set   func()
		reads int
	}{
		{"first", func() {}, 1},
		{"same generation", func() {}, 1},
		{"moved", func() { gen = 2 }, 2},
		{"same again", func() {}, 2},
		{"not told", func() { told = false }, 3},
		{"not told, same number", func() {}, 4},
		{"told again", func() { told = true }, 5},
		{"kept", func() {}, 5},
	} {
		step.set()
		if v := m.get(read); v != step.reads || reads != step.reads {
			t.Errorf("%s: value %d, %d reads; want %d", step.name, v, reads, step.reads)
		}
	}
	var none linkMemo[int]
	for i := range 2 {
		if v := none.get(read); v != reads {
			t.Errorf("no generation, call %d: kept %d", i+1, v)
		}
	}
}

// linkUp is an ifinfomsg that sets IFF_UP on interface index.
func linkUp(index int32) []byte {
	b := make([]byte, unix.SizeofIfInfomsg)
	binary.NativeEndian.PutUint32(b[4:], uint32(index))
	binary.NativeEndian.PutUint32(b[8:], unix.IFF_UP)
	binary.NativeEndian.PutUint32(b[12:], unix.IFF_UP)
	return b
}

// ipv4Addr is an ifaddrmsg with IFA_LOCAL and IFA_ADDRESS of addr/prefix
// on interface index.
func ipv4Addr(index uint32, addr [4]byte, prefix uint8) []byte {
	b := []byte{unix.AF_INET, prefix, 0, 0, 0, 0, 0, 0}
	binary.NativeEndian.PutUint32(b[4:], index)
	for _, typ := range []uint16{unix.IFA_LOCAL, unix.IFA_ADDRESS} {
		b = binary.NativeEndian.AppendUint16(b, 8)
		b = binary.NativeEndian.AppendUint16(b, typ)
		b = append(b, addr[:]...)
	}
	return b
}

// rtRequest sends an rtnetlink request of type typ with body, and waits
// for its acknowledgement.
func rtRequest(typ uint16, body []byte) error {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	msg := make([]byte, unix.NLMSG_HDRLEN, unix.NLMSG_HDRLEN+len(body))
	binary.NativeEndian.PutUint32(msg, uint32(unix.NLMSG_HDRLEN+len(body)))
	binary.NativeEndian.PutUint16(msg[4:], typ)
	binary.NativeEndian.PutUint16(msg[6:], unix.NLM_F_REQUEST|unix.NLM_F_ACK|unix.NLM_F_CREATE)
	msg = append(msg, body...)
	if err := unix.Sendto(fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return err
	}
	buf := make([]byte, 4096)
	n, _, err := unix.Recvfrom(fd, buf, 0)
	if err != nil {
		return err
	}
	if n < unix.NLMSG_HDRLEN+4 || binary.NativeEndian.Uint16(buf[4:]) != unix.NLMSG_ERROR {
		return errors.New("no acknowledgement")
	}
	if errno := -int32(binary.NativeEndian.Uint32(buf[unix.NLMSG_HDRLEN:])); errno != 0 {
		return unix.Errno(errno)
	}
	return nil
}
