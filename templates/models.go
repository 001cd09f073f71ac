// Package templates holds the HMI's templ components. Every component takes a view model defined here: plain
// structs of already formatted text, built by the web package. Device, configuration and user text is always
// rendered escaped; no component uses templ.Raw. The markup follows docs/ui-contract.md.
package templates

// Page is what the layout of every page shows.
type Page struct {
	Name   string // the body's data-page: overview, display, points, point, alarms, events, links, link, audit, admin-users, account, login, error
	Title  string
	User   string
	Role   string
	CSRF   string // the session's token, for <meta name="csrf-token"> and the forms
	CSS    string // URL of the stylesheet
	JS     string // URL of the entry module; empty: no script (an error page without a session)
	Nav    []NavItem
	Alarms AlarmBanner
	Notice string // the outcome of a form's action, shown at the top
	Error  string // a form's refusal, shown at the top
}

// NavItem is an entry of the main navigation: a link, or (with Children) a menu of links, such as the displays.
type NavItem struct {
	Href, Label string
	Current     bool // the page is this entry's, or one of its children's
	Children    []NavItem
}

// AlarmBanner holds the alarm counts of the banner on every page.
type AlarmBanner struct {
	Counts  []PriorityCount // priorities 1..4, in order
	Unacked int
}

// PriorityCount is the banner's count for one priority.
type PriorityCount struct {
	Priority int
	Unacked  int
	Active   int
}

// Option is a choice of a <select>.
type Option struct {
	Value, Label string
	Selected     bool
}

// LoginPage is /login.
type LoginPage struct {
	Page
	Username string
	Next     string
}

// PointRow is a point with its value, formatted, for lists, tiles and the detail page.
type PointRow struct {
	ID, Name, Area, Kind, Unit, Link string
	Address                          string // "CA 1 · IOA 1001"
	Value                            string // the formatted value (label or number with unit)
	Quality                          string // in words
	Classes                          string // q-* and state-N, as live.js sets them
	Time                             string // HH:MM:SS.mmm of the source (or receive) time
	TimeISO                          string
	Operable                         bool // the user may operate it
	Tagged                           bool // do not operate
	TagReason                        string
}

// Station is a link on the overview.
type Station struct {
	Name, State, Address string
	Since                string
	Points               int
	Alarms               []PriorityCount // priorities 1..4
	LastUpdate           string
	LastUpdateISO        string
}

// OverviewPage is /.
type OverviewPage struct {
	Page
	Stations []Station
	Displays []NavItem
	Counts   []PriorityCount
	Now      string
}

// DisplayPage is /displays/{id}.
type DisplayPage struct {
	Page
	ID, DisplayName string
	SVG             SVGNode
	Controls        []ControlView // one dialog per operable point of the display
	Displays        []NavItem
}

// SVGNode is a node of a sanitised SVG: an element (Tag) with only allowed attributes and children, or a text node
// (Tag empty) whose Text is rendered escaped.
type SVGNode struct {
	Tag      string
	Attrs    []SVGAttr
	Text     string
	Children []SVGNode
}

// SVGAttr is an attribute of an SVGNode.
type SVGAttr struct{ Name, Value string }

// PointFilter is the filter of the point list.
type PointFilter struct {
	Area, Text, Quality, Kind, Sort string
}

// PointsPage is /points.
type PointsPage struct {
	Page
	Filter    PointFilter
	Areas     []Option
	Kinds     []Option
	Qualities []Option
	Sorts     []Option
	Rows      []PointRow
	Total     int
}

// FlagView is a quality flag on the detail page.
type FlagView struct {
	Name    string
	Set     bool
	Meaning string
}

// EventRow is an event of the journal.
type EventRow struct {
	Time, TimeISO                  string
	Kind, Point, Area, Link, User  string
	Message, Value, State, Quality string
}

// Trend is a server-rendered SVG chart of a point's history: a min-max band and a line of the averages, in a
// viewBox of Width x Height. The data attributes let the script extend it live.
type Trend struct {
	Point         string
	Width, Height int
	Line          string // polyline points
	Band          string // polygon points
	Grid          []TrendTick
	Labels        []TrendTick
	FromMS, ToMS  int64 // the time span, Unix milliseconds
	Min, Max      float64
	Empty         bool
	Span          string // "last hour"
	Unavailable   string // why there is no trend
}

// TrendTick is a grid line or axis label.
type TrendTick struct {
	X1, Y1, X2, Y2 float64
	Text           string
	Anchor         string
}

// ControlView is a point's control dialog.
type ControlView struct {
	Point, Name     string
	DialogID        string // "control-dialog" for the first of a page, else empty
	SBO             bool
	SelectTimeoutMS int64
	Choices         []Option // discrete commands: value and label
	Setpoint        bool
	Unit            string
	Min, Max        string
	Tagged          bool
	TagReason       string
	Kind            string
	Value, Quality  string // the present value and quality, until the script updates them
	Classes         string // the point's q-* and state-N classes
}

// TagView is the do-not-operate tag of a point.
type TagView struct {
	On             bool
	Reason, By, At string
	CanSet         bool // the user may set or clear it
}

// PointPage is /points/{id}.
type PointPage struct {
	Page
	Point         PointRow
	Flags         []FlagView
	SourceTime    string // date and time to the millisecond; "" for none
	SourceTimeISO string
	RecvTime      string
	RecvTimeISO   string
	Alarms        []AlarmRow // the point's alarms, in any state
	CanService    bool       // the user may take its alarms out of service and back
	Events        []EventRow
	EventsNote    string
	Trend         Trend
	Control       *ControlView
	Tag           TagView
	HasControl    bool
	Interlocks    []string
}

// AlarmRow is an alarm of the list.
type AlarmRow struct {
	ID, Point, Area, Link string
	Priority              int
	State                 string // the contract's state name (active_unacked, ...)
	StateText             string
	Message               string
	RaisedAt, RaisedISO   string // RaisedAt short (HH:MM:SS today)
	RaisedFull            string // date and time to the millisecond
	AckedBy, AckedAt      string
	ShelvedUntil          string
	Comment               string
	Source                string // what raises it: "state", "limit HH", "quality", "link down", "command failure", ...
	Unacked               bool
	Shelved               bool
}

// AlarmFilter is the filter of the alarm list.
type AlarmFilter struct{ Area, Priority, State string }

// AlarmsPage is /alarms.
type AlarmsPage struct {
	Page
	Filter       AlarmFilter
	Areas        []Option
	Priorities   []Option
	States       []Option
	Durations    []Option
	Rows         []AlarmRow
	CanAct       bool       // acknowledge, shelve (operators)
	CanService   bool       // out of service and back (engineers)
	OutOfService []AlarmRow // the alarms out of service, which the list itself leaves out
}

// EventFilter is the filter of the journal.
type EventFilter struct{ From, To, Point, Area, Kind, Text string }

// EventsPage is /events.
type EventsPage struct {
	Page
	Filter    EventFilter
	Kinds     []Option
	Areas     []Option
	Rows      []EventRow
	NextURL   string
	FirstURL  string
	CSVURL    string
	Available bool
}

// AuditStep is one entry of a command's audit.
type AuditStep struct {
	Step, At, AtISO, State string
	Cause                  string
	Latency                string
	Detail                 string
	Negative               bool
}

// AuditCommand is a command with its audited steps.
type AuditCommand struct {
	ID, Point, Value, User, Session, Client, State string
	Steps                                          []AuditStep
}

// AuditFilter is the filter of the audit page.
type AuditFilter struct{ From, To, Point, User, Command string }

// AuditPage is /audit.
type AuditPage struct {
	Page
	Filter    AuditFilter
	Commands  []AuditCommand
	NextURL   string
	FirstURL  string
	Available bool
}

// LinkRow is a link with its statistics.
type LinkRow struct {
	Name, State, Address, Since, SinceISO    string
	RxFrames, TxFrames, RxObjects, TxObjects string
	Errors, Reconnects                       string
	LastInterrogation, InterrogationTime     string
	TestRTT                                  string
	Points                                   int
}

// KV is a labelled value.
type KV struct{ Key, Value string }

// LinksPage is /links.
type LinksPage struct {
	Page
	Links []LinkRow
}

// LinkPage is /links/{name}. The traffic table is filled by the script from the WebSocket.
type LinkPage struct {
	Page
	Link        LinkRow
	ErrorKinds  []KV
	Traffic     bool   // the user may watch the traffic
	TrafficNote string // why not
}

// UserRow is an account on the admin page.
type UserRow struct {
	Name, Role, Areas, Created string
	Disabled, Self             bool
}

// UsersPage is /admin/users.
type UsersPage struct {
	Page
	Users []UserRow
	Roles []Option
}

// AccountPage is /account.
type AccountPage struct {
	Page
	Areas string
}

// ErrorPage is a page that says what went wrong.
type ErrorPage struct {
	Page
	Status  int
	Heading string
	Message string
}
