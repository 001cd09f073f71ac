package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"

	"hmi/alarms"
	"hmi/points"
)

// Live is what one WebSocket client sees (docs/ui-contract.md, "WebSocket /ws"): the points it subscribed to,
// coalesced by the point cache; the alarm summary of the user's areas; the progress of its session's commands;
// the decoded traffic of a link. The server's hub owns the transport and calls these methods from the client's
// one writer goroutine; they are not safe for concurrent use, except Commands and Lagging.
//
// The byte slices Live returns are valid until its next call.
type Live struct {
	a       *App
	id      *Identity
	sub     *points.Subscription // nil before the first subscribe
	changes []points.Change
	buf     []byte
	cmds    *commandSub
	link    string // the link whose traffic is streamed, "" for none
	after   uint64 // the last frame sent
	frames  []Frame
	lastSum []byte // the last alarm summary sent, to skip repeats
	seq     uint64 // the seq of the last snapshot or points message: it increases on one connection
}

// Limits of the protocol.
const (
	// MaxSubscription is the most points one socket may subscribe to.
	MaxSubscription = 5000
	// MaxClientMessage is the largest message a client may send.
	MaxClientMessage = 64 << 10
	// maxTrafficBatch is the most frames of one traffic message.
	maxTrafficBatch = 500
	// trafficBacklog is how many past frames a new traffic stream starts with.
	trafficBacklog = 200
)

// NewLive returns the state of a new WebSocket client of id. Close it when the socket ends.
func (a *App) NewLive(id *Identity) *Live {
	return &Live{a: a, id: id, cmds: a.commands.subscribe(id.Ref)}
}

// Close releases the client's subscriptions.
func (l *Live) Close() {
	if l.sub != nil {
		l.sub.Close()
		l.sub = nil
	}
	l.a.commands.unsubscribe(l.id.Ref, l.cmds)
}

// Identity returns who the client is.
func (l *Live) Identity() *Identity { return l.id }

// clientMessage is what a client sends.
type clientMessage struct {
	Type   string   `json:"type"`
	Points []string `json:"points"`
	Link   string   `json:"link"`
}

// ProtocolError is a client message that breaks the protocol: the server closes the socket with its text.
type ProtocolError struct{ Reason string }

func (e *ProtocolError) Error() string { return "web: websocket protocol: " + e.Reason }

// parseClientMessage decodes a message of the client and checks what does not depend on the client's state: the
// size, the JSON, the type, the number of points of a subscribe. The error is a *ProtocolError.
func parseClientMessage(msg []byte) (clientMessage, error) {
	if len(msg) > MaxClientMessage {
		return clientMessage{}, &ProtocolError{Reason: "message too large"}
	}
	var m clientMessage
	if err := json.Unmarshal(msg, &m); err != nil {
		return clientMessage{}, &ProtocolError{Reason: "message is not JSON"}
	}
	switch m.Type {
	case "ping", "traffic":
	case "subscribe":
		if len(m.Points) > MaxSubscription {
			return clientMessage{}, &ProtocolError{Reason: fmt.Sprintf("more than %d points", MaxSubscription)}
		}
	default:
		// The reason goes in a close frame, at most 123 bytes: quoted, 24 bytes of the type take at most 98 (\x7f).
		return clientMessage{}, &ProtocolError{Reason: "unknown message type " + strconv.Quote(limitText(m.Type, 24))}
	}
	return m, nil
}

// Handle handles a message of the client and returns the answer to send at once, if any: a snapshot after
// subscribe, a pong after ping, the recent frames after traffic.
func (l *Live) Handle(msg []byte) ([]byte, error) {
	m, err := parseClientMessage(msg)
	if err != nil {
		return nil, err
	}
	switch m.Type {
	case "ping":
		return []byte(`{"type":"pong"}`), nil
	case "subscribe":
		return l.subscribe(m.Points), nil
	case "traffic":
		if m.Link == "" {
			l.link = ""
			return nil, nil
		}
		if !l.a.mayWatchTraffic(l.id) {
			return nil, nil // the page says why; the socket stays
		}
		if _, err := l.a.visibleLink(l.id, m.Link); err != nil {
			return nil, nil
		}
		l.link, l.after = m.Link, 0
		l.frames = l.a.deps.Links.Traffic(m.Link, 0, l.frames[:0])
		if len(l.frames) > trafficBacklog {
			l.after = l.frames[len(l.frames)-trafficBacklog-1].Seq
		}
		return l.Traffic(), nil
	}
	return nil, nil // parseClientMessage lets no other type through
}

// subscribe replaces the subscription with the points of ids that the user sees and returns the snapshot.
func (l *Live) subscribe(ids []string) []byte {
	hs := make([]points.Handle, 0, len(ids))
	for _, pid := range ids {
		if h, ok := l.a.cache.Lookup(pid); ok && l.id.Sees(l.a.defs[h].Area) {
			hs = append(hs, h)
		}
	}
	slices.Sort(hs)
	hs = slices.Compact(hs)
	if l.sub != nil {
		l.sub.Close()
	}
	// Subscribe first, then read: a change in between is in both, never in neither.
	l.sub = l.a.cache.Subscribe(hs)
	b := append(l.buf[:0], `{"type":"snapshot","seq":`...)
	b = strconv.AppendUint(b, l.nextSeq(l.a.cache.Seq()), 10)
	b = append(b, `,"points":[`...)
	for i, h := range hs {
		if i > 0 {
			b = append(b, ',')
		}
		b = l.a.livePoint(b, h, l.a.cache.Get(h))
	}
	b = append(b, "]}"...)
	l.buf = b
	return b
}

// nextSeq returns the seq of the next snapshot or points message: the cache's sequence number of its newest value,
// or one more than the last message's when that is not greater (a change reserved before a snapshot may be
// notified after it).
func (l *Live) nextSeq(cacheSeq uint64) uint64 {
	l.seq = max(cacheSeq, l.seq+1)
	return l.seq
}

// Ready returns a channel that receives when subscribed points changed; nil (never ready) before a subscribe.
func (l *Live) Ready() <-chan struct{} {
	if l.sub == nil {
		return nil
	}
	return l.sub.Ready()
}

// Points returns the coalesced changes of the subscription as a points message, nil when there is none.
func (l *Live) Points() []byte {
	if l.sub == nil {
		return nil
	}
	l.changes = l.sub.Next(l.changes[:0])
	if len(l.changes) == 0 {
		return nil
	}
	b := append(l.buf[:0], `{"type":"points","seq":`...)
	b = strconv.AppendUint(b, l.nextSeq(l.changes[len(l.changes)-1].Value.Seq), 10)
	b = append(b, `,"points":[`...)
	for i, c := range l.changes {
		if i > 0 {
			b = append(b, ',')
		}
		b = l.a.livePoint(b, c.Point, c.Value)
	}
	b = append(b, "]}"...)
	l.buf = b
	if cap(l.changes) > 4*MaxSubscription {
		l.changes = nil
	}
	return b
}

// NewAlarm reports whether one of the areas of new alarms (from WatchAlarms) is the user's.
func (l *Live) NewAlarm(news []string) bool {
	for _, ar := range news {
		if !l.id.restricted() || (ar != "" && l.id.Sees(ar)) {
			return true
		}
	}
	return false
}

// Alarms returns the alarm summary of the user's areas as an alarms message; nil when it is the one last sent and
// no new alarm arrived.
func (l *Live) Alarms(isNew bool) []byte {
	counts := l.a.alarmCounts(l.id)
	b := []byte(`{"type":"alarms","summary":{`)
	total := 0
	for i, c := range counts {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = strconv.AppendInt(b, int64(c.Priority), 10)
		b = append(b, `":{"unacked":`...)
		b = strconv.AppendInt(b, int64(c.Unacked), 10)
		b = append(b, `,"active":`...)
		b = strconv.AppendInt(b, int64(c.Active), 10)
		b = append(b, '}')
		total += c.Unacked
	}
	b = append(b, `},"unacked":`...)
	b = strconv.AppendInt(b, int64(total), 10)
	if !isNew && bytes.Equal(b, l.lastSum) {
		return nil
	}
	l.lastSum = bytes.Clone(b)
	b = append(b, `,"new":`...)
	b = appendBool(b, isNew)
	return append(b, '}')
}

// Commands returns the channel of this session's command messages (encoded).
func (l *Live) Commands() <-chan []byte { return l.cmds.ch }

// Lagging returns a channel closed when the client missed a command message because it fell behind: the server
// must drop it.
func (l *Live) Lagging() <-chan struct{} { return l.cmds.lag }

// TrafficLink returns the link whose traffic the client streams, "" for none.
func (l *Live) TrafficLink() string { return l.link }

// Traffic returns the link's new frames as traffic messages joined in one (at most maxTrafficBatch frames; the
// rest comes with the next call), nil when there is none.
func (l *Live) Traffic() []byte {
	if l.link == "" {
		return nil
	}
	l.frames = l.a.deps.Links.Traffic(l.link, l.after, l.frames[:0])
	if len(l.frames) == 0 {
		return nil
	}
	if len(l.frames) > maxTrafficBatch {
		l.frames = l.frames[len(l.frames)-maxTrafficBatch:] // the oldest are skipped: a viewer wants what is now
	}
	b := append(l.buf[:0], `{"type":"traffic","link":`...)
	b = appendString(b, l.link)
	b = append(b, `,"frames":[`...)
	for i, f := range l.frames {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"seq":`...)
		b = strconv.AppendUint(b, f.Seq, 10)
		b = append(b, `,"time":`...)
		b = appendTime(b, f.Time)
		b = append(b, `,"dir":"`...)
		if f.Sent {
			b = append(b, "tx"...)
		} else {
			b = append(b, "rx"...)
		}
		b = append(b, `","address":`...)
		b = appendString(b, f.Address)
		b = append(b, `,"text":`...)
		b = appendString(b, f.Text)
		b = append(b, '}')
	}
	b = append(b, "]}"...)
	l.after = l.frames[len(l.frames)-1].Seq
	l.buf = b
	return b
}

// SessionValid reports whether the client's session is still valid.
func (l *Live) SessionValid(ctx context.Context) bool { return l.a.SessionValid(ctx, l.id) }

// encodeCommand returns a command message.
func encodeCommand(r *CommandRecord) []byte {
	b, err := json.Marshal(struct {
		Type    string      `json:"type"`
		Command commandJSON `json:"command"`
	}{"command", toCommandJSON(r)})
	if err != nil {
		return nil
	}
	return b
}

// ResyncMessage is what the server sends a client it is about to drop for falling behind.
var ResyncMessage = []byte(`{"type":"resync"}`)

// WatchAlarms subscribes to the alarm engine at once and returns the loop
// that calls changed after alarm transitions, until ctx ends (it then
// returns ctx.Err()). Subscribing before the loop runs means that the
// server, which calls WatchAlarms before it accepts connections, misses no
// transition. Transitions that arrive together give one call, with the
// areas of the alarms that became active and unacknowledged among them
// (the pages sound the audible alarm for those they show). When the engine
// drops the subscription for falling behind, the loop subscribes again and
// calls changed, so that the summaries are recomputed.
func (a *App) WatchAlarms(changed func(news []string)) (run func(ctx context.Context) error) {
	sub := a.deps.Alarms.Subscribe()
	return func(ctx context.Context) error {
		for {
			err := watch(ctx, sub, changed)
			sub.Close()
			if err != nil {
				return err
			}
			sub = a.deps.Alarms.Subscribe()
			changed(nil) // dropped: resubscribed; the summary may have changed meanwhile
		}
	}
}

// watch reads sub until ctx ends (ctx.Err()) or the engine closes it (nil).
func watch(ctx context.Context, sub *alarms.Subscription, changed func(news []string)) error {
	var news []string
	add := func(t alarms.Transition) {
		if t.Alarm.State == alarms.ActiveUnacked && t.From != alarms.ActiveUnacked && !slices.Contains(news, t.Alarm.Area) {
			news = append(news, t.Alarm.Area)
		}
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case t, ok := <-sub.C():
			if !ok {
				return nil
			}
			news = news[:0]
			add(t)
			for more := true; more; {
				select {
				case t, ok := <-sub.C():
					if !ok {
						changed(slices.Clone(news))
						return nil
					}
					add(t)
				default:
					more = false
				}
			}
			changed(slices.Clone(news))
		}
	}
}
