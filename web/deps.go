package web

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"time"

	"hmi/alarms"
	"hmi/points"
)

// Deps is what the web handlers read and act through. cmd/hmi builds it: the point cache and the alarm engine as
// they are, and small adapters from the store and the front end to the interfaces below. Fields marked optional may
// be nil; the pages then say that the feature is not available.
type Deps struct {
	Points   *points.Cache // required: definitions and live values
	Alarms   AlarmOps      // required: *alarms.Engine satisfies it
	Accounts Accounts      // required: users and sessions (the store)
	Links    Links         // required: link state, statistics and decoded traffic (the front end)

	Journal   Journal   // optional: the event journal (the store)
	Audit     AuditLog  // optional, but without it no command is accepted: the command audit (the store)
	History   History   // optional: recorded values (the store)
	Commander Commander // optional: runs commands (the front end's Commander); nil: no point is operable

	// Controls are the controls of the configuration, one per operable point.
	Controls []Control
	// Tags keeps the do-not-operate tags; nil: kept in memory (MemoryTags), starting with the Controls whose
	// DoNotOperate is set.
	Tags Tags
	// Displays are the SVG mimic diagrams of the configuration, in menu order.
	Displays []Display

	Log *slog.Logger // nil: discard
}

// AlarmOps is the alarm engine as the pages use it; *alarms.Engine implements it.
type AlarmOps interface {
	List(f alarms.Filter) []alarms.Alarm
	Get(id string) (alarms.Alarm, bool)
	Summary() map[alarms.Priority]alarms.Counts
	Subscribe() *alarms.Subscription
	Ack(ctx context.Context, user string, ids []string, comment string) error
	AckAll(ctx context.Context, user string, f alarms.Filter, comment string) (int, error)
	Shelve(ctx context.Context, user, id string, d time.Duration, comment string) error
	Unshelve(ctx context.Context, user, id, comment string) error
	OutOfService(ctx context.Context, user, id string, on bool, comment string) error
}

// Errors the adapters return (wrapped or as they are) so that the handlers can tell what went wrong; branch with
// errors.Is. The store adapter maps store.ErrNotFound and store.ErrExists to these.
var (
	ErrNotFound = errors.New("not found")
	ErrExists   = errors.New("already exists")
)

// User is an account as the store keeps it.
type User struct {
	Name         string
	Role         Role
	PasswordHash string   // PHC string from HashPassword
	Areas        []string // the areas the user may see and operate (and everything below them); empty: all
	Created      time.Time
	Disabled     bool
}

// Session is a login as the store keeps it. IDHash is the hex SHA-256 of the cookie's token: the store never holds
// anything that logs in.
type Session struct {
	IDHash   string
	User     string
	CSRF     string
	Created  time.Time
	LastSeen time.Time
	Client   string
}

// Accounts keeps users and sessions (store.Store through an adapter: the methods have the store's names and
// shapes; the adapter converts the role string and maps store.ErrNotFound / store.ErrExists to ErrNotFound /
// ErrExists).
type Accounts interface {
	GetUser(ctx context.Context, name string) (User, error) // ErrNotFound
	ListUsers(ctx context.Context) ([]User, error)
	CreateUser(ctx context.Context, u User) error // ErrExists
	UpdateUser(ctx context.Context, u User) error // role, areas, disabled; ErrNotFound
	UpdatePassword(ctx context.Context, name, hash string) error
	DeleteUser(ctx context.Context, name string) error

	CreateSession(ctx context.Context, s Session) error
	GetSession(ctx context.Context, idHash string) (Session, error) // ErrNotFound
	TouchSession(ctx context.Context, idHash string, at time.Time) error
	DeleteSession(ctx context.Context, idHash string) error
	DeleteUserSessions(ctx context.Context, user string) (int64, error)
}

// Event is one entry of the event journal (store.Event).
type Event struct {
	ID      int64
	Time    time.Time // source time when known, else receive time
	Recv    time.Time
	Kind    string // point, alarm, operator, command, link, security, anomaly, device
	Point   string
	Area    string
	Link    string
	User    string
	Message string
	Value   *float64
	State   string
	Quality string
}

// EventQuery selects events (store.EventQuery). Zero fields do not filter.
type EventQuery struct {
	From, To time.Time
	Point    string
	Area     string // the area and everything below it
	Kind     string
	Text     string
	Limit    int
	Cursor   string
}

// ErrBadCursor is what Journal and AuditLog return (wrapped) for a cursor they did not make; the adapter maps
// store.ErrBadCursor to it.
var ErrBadCursor = errors.New("bad cursor")

// Journal is the event journal (store.Store: Events and ExportCSV).
type Journal interface {
	// Events returns the events q selects, newest first, and the cursor of the next page ("" after the last).
	Events(ctx context.Context, q EventQuery) ([]Event, string, error)
	// ExportCSV streams the events q selects to w as CSV (Limit 0: all).
	ExportCSV(ctx context.Context, q EventQuery, w io.Writer) error
}

// AuditEntry is one step of a command in the audit trail (store.AuditRecord).
type AuditEntry struct {
	ID        int64
	At        time.Time
	CommandID string
	Point     string
	Link      string
	Step      string // requested, refused, select, select_con, execute, execute_con, execute_term, cancel, ...
	Value     float64
	State     string
	User      string
	Session   string // the session's reference (not its token)
	Client    string
	Cause     int
	Negative  bool
	LatencyMS float64
	Detail    string
	Hash      string
}

// AuditQuery selects audit entries (store.AuditQuery).
type AuditQuery struct {
	From, To  time.Time
	Point     string
	User      string
	CommandID string
	Limit     int
	Cursor    string
}

// AuditLog is the command audit trail (store.Store: AppendAudit and Audit).
type AuditLog interface {
	AppendAudit(ctx context.Context, e AuditEntry) (int64, error)
	Audit(ctx context.Context, q AuditQuery) ([]AuditEntry, string, error)
}

// Bucket summarises a point's recorded values in [Start, End) (store.Bucket).
type Bucket struct {
	Start, End time.Time
	Min, Max   float64
	Avg        float64
	Last       float64
	Count      int
}

// History is the recorded values (store.Store.History).
type History interface {
	History(ctx context.Context, point string, from, to time.Time, buckets int) ([]Bucket, error)
}

// LinkStats are a link's counters.
type LinkStats struct {
	RxFrames, TxFrames   uint64
	RxObjects, TxObjects uint64
	Errors               uint64            // all kinds
	ErrorsByKind         map[string]uint64 // may be nil
	Reconnects           uint64
	Replays              uint64 // time-tagged events received again (a station's buffer after a reconnect), not applied
	LastInterrogation    time.Time
	InterrogationTime    time.Duration
	TestRTT              time.Duration
}

// LinkInfo is a link's state as the pages show it.
type LinkInfo struct {
	Name    string
	State   string // disconnected, connecting, stopped, active
	Address string
	Since   time.Time
	Stats   LinkStats
}

// LinkActive is the State of a link whose data transfer runs.
const LinkActive = "active"

// Frame is one APDU of a link's traffic, already decoded into one line of text.
type Frame struct {
	Seq     uint64
	Time    time.Time
	Sent    bool // sent by the HMI ("tx"); false: received ("rx")
	Address string
	Text    string
}

// Links is the front end's links (frontstation.Link through an adapter).
type Links interface {
	// Links returns every link, in configuration order.
	Links() []LinkInfo
	// Link returns one link.
	Link(name string) (LinkInfo, bool)
	// Traffic appends the link's frames with Seq > after, oldest first, to dst; at most the ring's content.
	Traffic(name string, after uint64, dst []Frame) []Frame
}

// Origin says who asked for a command (frontstation.Origin).
type Origin struct {
	User, Session, Client string
}

// CommandStep is one step of a command (frontstation.Step).
type CommandStep struct {
	Name     string // select, select_con, execute, execute_con, execute_term, cancel, cancel_con, timeout, link_lost
	At       time.Time
	Cause    int
	Negative bool
	Latency  time.Duration
}

// CommandRecord is a command and its steps (frontstation.Record).
type CommandRecord struct {
	ID     string
	Point  string
	Link   string
	Value  float64
	SBO    bool
	Origin Origin
	State  string // requested, selecting, selected, executing, confirmed, terminated, failed, cancelled
	Steps  []CommandStep
	Err    string
	Done   bool // nothing more will happen (a command confirmed without ACTTERM expected ends "confirmed")
}

// Final reports whether nothing more will happen to the command.
func (r *CommandRecord) Final() bool {
	return r.Done || r.State == "terminated" || r.State == "failed" || r.State == "cancelled"
}

// Errors of a Commander, which its adapter wraps (fmt.Errorf("%w: %v", web.ErrCommandBusy, err)) so that the
// handlers answer with the right status: frontstation.ErrBusy and ErrQuarantine -> ErrCommandBusy,
// ErrLinkNotActive -> ErrLinkDown, ErrBadValue -> ErrBadValue, ErrNoControl -> ErrNoControl, ErrUnknownCommand ->
// ErrUnknownCommand, ErrNotSelected -> ErrNotSelected. Any other error is an internal error.
var (
	ErrCommandBusy    = errors.New("a command is pending on the point")
	ErrLinkDown       = errors.New("the point's link is not active")
	ErrBadValue       = errors.New("value not allowed for this control")
	ErrNoControl      = errors.New("the point has no control")
	ErrUnknownCommand = errors.New("no such command")
	ErrNotSelected    = errors.New("the command is not selected")
)

// Commander runs commands (frontstation.Commander through an adapter). Select of an SBO control returns when the
// selection is confirmed or refused; of a direct control when the execution is confirmed and, where expected,
// terminated. A command that the device refuses or that times out is not an error: its record says failed.
type Commander interface {
	Select(ctx context.Context, point string, value float64, o Origin) (CommandRecord, error)
	Execute(ctx context.Context, id string) (CommandRecord, error)
	Cancel(ctx context.Context, id string) (CommandRecord, error)
	Get(id string) (CommandRecord, bool)
}

// Control is the control configuration of one operable point (config.Control).
type Control struct {
	Point         string        // the point's ID
	Type          string        // single, double, step, setpoint_normalized, setpoint_scaled, setpoint_float
	SBO           bool          // select before operate
	SelectTimeout time.Duration // 0: 30 s
	Roles         []Role        // who may operate; empty: operator, engineer and admin
	DoNotOperate  bool          // tagged by the configuration (seeds MemoryTags)
	Interlocks    []Interlock
	Min, Max      *float64 // set-points: the range offered in the dialog, when known
}

// Interlock must hold for a command to be accepted: the tested point's value equals Value and its quality is good.
type Interlock struct {
	Point  string
	Value  float64
	Reason string // shown when it blocks; default "POINT NAME is not VALUE"
}

// Tag is a point's do-not-operate tag.
type Tag struct {
	On     bool
	Reason string
	By     string
	At     time.Time
}

// Tags keeps the do-not-operate tags.
type Tags interface {
	Tag(point string) Tag
	SetTag(ctx context.Context, point string, t Tag) error
}

// Display is an SVG mimic diagram of the configuration.
type Display struct {
	ID   string // used in /displays/{id}
	Name string
	SVG  []byte // the file's content; sanitised by New
}
