package templates

import (
	"context"
	"io"
	"net/url"
	"strconv"
	"strings"

	"github.com/a-h/templ"
)

// countClasses returns the classes of an alarm count of the banner, as alarms.js sets them.
func countClasses(c PriorityCount) string {
	cls := "alarm-count p" + strconv.Itoa(c.Priority)
	switch {
	case c.Unacked == 0 && c.Active == 0:
		cls += " is-zero"
	default:
		if c.Unacked > 0 {
			cls += " has-unacked"
		}
		if c.Active > 0 {
			cls += " has-active"
		}
	}
	return cls
}

func countTitle(c PriorityCount) string {
	return "Priority " + strconv.Itoa(c.Priority) + ": " + strconv.Itoa(c.Unacked) + " unacknowledged, " +
		strconv.Itoa(c.Active) + " active"
}

// joinClasses joins non-empty class names.
func joinClasses(cls ...string) string {
	var out []string
	for _, c := range cls {
		if c != "" {
			out = append(out, c)
		}
	}
	return strings.Join(out, " ")
}

// svgAttrs converts a sanitised node's attributes for spreading, in their order.
func svgAttrs(attrs []SVGAttr) templ.OrderedAttributes {
	out := make(templ.OrderedAttributes, len(attrs))
	for i, a := range attrs {
		out[i] = templ.KeyValue[string, any]{Key: a.Name, Value: a.Value}
	}
	return out
}

// breakable renders an ID, escaped, with a line break opportunity (<wbr>) after each dot, so that a narrow column
// breaks "north.busbar.frequency" between its parts rather than inside them. (A Go component: templ would put
// spaces between the parts.)
func breakable(id string) templ.Component {
	return templ.ComponentFunc(func(_ context.Context, w io.Writer) error {
		for i, part := range strings.SplitAfter(id, ".") {
			if i > 0 {
				if _, err := io.WriteString(w, "<wbr>"); err != nil {
					return err
				}
			}
			if _, err := io.WriteString(w, templ.EscapeString(part)); err != nil {
				return err
			}
		}
		return nil
	})
}

func ftoa(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func itoa64(i int64) string { return strconv.FormatInt(i, 10) }

// pathURL returns prefix followed by the path-escaped segment: a point ID, link or user name never changes the
// path's structure or its scheme.
func pathURL(prefix, segment string) templ.SafeURL {
	return templ.SafeURL(prefix + url.PathEscape(segment))
}
