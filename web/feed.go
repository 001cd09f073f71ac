package web

import (
	"sync"
	"sync/atomic"
)

// commandFeed hands the encoded progress of commands to the WebSocket clients of the session that runs them.
type commandFeed struct {
	mu   sync.Mutex // guards subs
	subs map[string]map[*commandSub]struct{}
}

// commandSub is one client's queue of command messages. Command messages are not coalesced: a client that lets
// its queue fill has missed one, and is marked lagging so that its transport drops it.
type commandSub struct {
	ch      chan []byte
	lagging atomic.Bool
	lag     chan struct{} // closed when lagging is set
}

// commandQueue is how many command messages a client may have waiting.
const commandQueue = 64

func newCommandFeed() *commandFeed {
	return &commandFeed{subs: map[string]map[*commandSub]struct{}{}}
}

func (f *commandFeed) subscribe(session string) *commandSub {
	s := &commandSub{ch: make(chan []byte, commandQueue), lag: make(chan struct{})}
	f.mu.Lock()
	defer f.mu.Unlock()
	m := f.subs[session]
	if m == nil {
		m = map[*commandSub]struct{}{}
		f.subs[session] = m
	}
	m[s] = struct{}{}
	return s
}

func (f *commandFeed) unsubscribe(session string, s *commandSub) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if m := f.subs[session]; m != nil {
		delete(m, s)
		if len(m) == 0 {
			delete(f.subs, session)
		}
	}
}

// publish hands msg to the clients of session without waiting.
func (f *commandFeed) publish(session string, msg []byte) {
	if session == "" {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for s := range f.subs[session] {
		select {
		case s.ch <- msg:
		default:
			if !s.lagging.Swap(true) {
				close(s.lag)
			}
		}
	}
}
