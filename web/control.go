package web

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"hmi/points"
	"hmi/templates"
)

// The command rules that depend on nothing but the configuration and the user: who may operate what, and with
// which values.

// mayOperate reports whether the user's role and areas allow operating the point of control c (tags, interlocks
// and the link are checked when a command is asked for).
func (a *App) mayOperate(id *Identity, c *Control, d *points.Def) bool {
	return c != nil && a.deps.Commander != nil && id.Role().AtLeast(RoleOperator) &&
		slices.Contains(c.Roles, id.Role()) && id.Sees(d.Area)
}

// choices returns the values a discrete control offers, with their labels from the point's definition.
func choices(c *Control, d *points.Def) []templates.Option {
	label := func(x float64) string { return formatValue(d, x) }
	switch c.Type {
	case "single":
		return []templates.Option{{Value: "0", Label: label(0)}, {Value: "1", Label: label(1)}}
	case "double":
		return []templates.Option{{Value: "1", Label: label(1)}, {Value: "2", Label: label(2)}}
	case "step":
		return []templates.Option{{Value: "1", Label: "Lower"}, {Value: "2", Label: "Higher"}}
	}
	return nil
}

// isSetpoint reports whether the control takes a number rather than a state.
func isSetpoint(c *Control) bool { return strings.HasPrefix(c.Type, "setpoint") }

// checkValue refuses a value the control cannot send.
func checkValue(c *Control, x float64) error {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return errorf(CodeUnprocessable, "value: not a finite number")
	}
	switch c.Type {
	case "single":
		if x != 0 && x != 1 {
			return errorf(CodeUnprocessable, fmt.Sprintf("value: a single command takes 0 or 1, not %s", ftoa(x)))
		}
	case "double", "step":
		if x != 1 && x != 2 {
			return errorf(CodeUnprocessable, fmt.Sprintf("value: a %s command takes 1 or 2, not %s", c.Type, ftoa(x)))
		}
	default:
		if c.Min != nil && x < *c.Min {
			return errorf(CodeUnprocessable, fmt.Sprintf("value: %s is below the minimum %s", ftoa(x), ftoa(*c.Min)))
		}
		if c.Max != nil && x > *c.Max {
			return errorf(CodeUnprocessable, fmt.Sprintf("value: %s is above the maximum %s", ftoa(x), ftoa(*c.Max)))
		}
	}
	return nil
}

func ftoa(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }

// controlView returns the dialog of a control.
func (a *App) controlView(c *Control, d *points.Def, dialogID string) templates.ControlView {
	name := d.Name
	if name == "" {
		name = d.ID
	}
	tag := a.tags.Tag(d.ID)
	val := a.cache.Get(a.handle(d.ID))
	v := templates.ControlView{
		Value: valueText(d, val), Quality: qualityText(val.Quality), Classes: pointClasses(d, val),
		Point: d.ID, Name: name, DialogID: dialogID, SBO: c.SBO, SelectTimeoutMS: c.SelectTimeout.Milliseconds(),
		Setpoint: isSetpoint(c), Unit: d.Unit, Tagged: tag.On, TagReason: tag.Reason, Kind: d.Kind.String(),
	}
	if v.Setpoint {
		if c.Min != nil {
			v.Min = ftoa(*c.Min)
		}
		if c.Max != nil {
			v.Max = ftoa(*c.Max)
		}
	} else {
		v.Choices = choices(c, d)
	}
	return v
}

// interlockText says what an interlock requires.
func (a *App) interlockText(il Interlock) string {
	if il.Reason != "" {
		return il.Reason
	}
	h, ok := a.cache.Lookup(il.Point)
	if !ok {
		return il.Point + " is " + ftoa(il.Value)
	}
	d := a.cache.Def(h)
	name := d.Name
	if name == "" {
		name = d.ID
	}
	return name + " must be " + formatValue(&d, il.Value)
}

// handle returns the handle of a point known to exist.
func (a *App) handle(id string) points.Handle {
	h, _ := a.cache.Lookup(id)
	return h
}
