package web

import (
	"fmt"
	"slices"
	"strings"
)

// Role is what a user may do: each role may do what the roles below it may.
type Role uint8

// The roles, from the least.
const (
	RoleViewer   Role = iota + 1 // sees the plant
	RoleOperator                 // acknowledges and shelves alarms, operates points
	RoleEngineer                 // tags points, reads the audit
	RoleAdmin                    // administers users
)

var roleNames = [...]string{"", "viewer", "operator", "engineer", "admin"}

// Roles lists every role, from the least.
var Roles = []Role{RoleViewer, RoleOperator, RoleEngineer, RoleAdmin}

// String returns the role's name ("viewer", ...).
func (r Role) String() string {
	if r.Valid() {
		return roleNames[r]
	}
	return fmt.Sprintf("role(%d)", uint8(r))
}

// Valid reports whether r is one of the roles.
func (r Role) Valid() bool { return r >= RoleViewer && r <= RoleAdmin }

// AtLeast reports whether r may do what min may.
func (r Role) AtLeast(min Role) bool { return r.Valid() && r >= min }

// ParseRole returns the role named s.
func ParseRole(s string) (Role, error) {
	for r := RoleViewer; r <= RoleAdmin; r++ {
		if roleNames[r] == s {
			return r, nil
		}
	}
	return 0, fmt.Errorf("web: unknown role %q (want viewer, operator, engineer or admin)", s)
}

// MarshalText implements encoding.TextMarshaler.
func (r Role) MarshalText() ([]byte, error) {
	if !r.Valid() {
		return nil, fmt.Errorf("web: invalid role %d", uint8(r))
	}
	return []byte(roleNames[r]), nil
}

// inArea reports whether area lies in one of areas (equal, or below it); every area when areas is empty.
func inArea(areas []string, area string) bool {
	if len(areas) == 0 {
		return true
	}
	return slices.ContainsFunc(areas, func(a string) bool { return areaWithin(area, a) })
}

// areaWithin reports whether area is parent or below it ("north/f1" is within "north", "northeast" is not).
func areaWithin(area, parent string) bool {
	parent = strings.TrimSuffix(parent, "/")
	return parent == "" || area == parent || strings.HasPrefix(area, parent+"/")
}
